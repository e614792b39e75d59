/**
 * The `turtles` command line. Until the L1 hypervisor exists, its main job
 * is the most complete demo the project has: its own test kernel booted on
 * the machine; and `boot` runs any multiboot kernel as QEMU's -kernel does.
 */
import { BOOT_USAGE, runBoot } from './boot.ts';
import { runDemo } from './demo.ts';

const USAGE = `usage: turtles <command> [options]

commands:
  demo [--cpus N]               boot the project's test kernel on N cores, default 4 (what \`npm start\` runs)
${BOOT_USAGE}
  help                          show this text`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'demo', ...rest] = argv;
  switch (command) {
    case 'demo':
      return runDemo(rest);
    case 'boot':
      try {
        return await runBoot(rest, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
      } finally {
        process.stdin.destroy(); // stop waiting for serial input, so the process can end
      }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`turtles: unknown command '${command}' (try 'turtles help')`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
