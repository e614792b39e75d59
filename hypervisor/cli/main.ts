/**
 * The `turtles` command line. Its main job (`run`, what `npm start` runs):
 * the L1 hypervisor runs the L2 guest suite and reports per guest, leaving
 * an exit trace that `diff` compares. `boot` runs any multiboot kernel as
 * QEMU's -kernel does; `demo` boots the project's own test kernel.
 */
import { BOOT_USAGE, runBoot } from './boot.ts';
import { runDemo } from './demo.ts';
import { DIFF_USAGE, runDiff } from './diff.ts';
import { RUN_USAGE, runRun, type CliIo } from './run.ts';

const USAGE = `usage: turtles <command> [options]

commands:
${RUN_USAGE}
${DIFF_USAGE}
  demo [--cpus N]               boot the project's multiboot test kernel on N cores (default 4), root mode, no hypervisor
${BOOT_USAGE}
  help                          show this text`;

const io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

export async function main(argv: string[]): Promise<number> {
  const [command = 'run', ...rest] = argv;
  switch (command) {
    case 'run':
      return runRun(rest, io);
    case 'diff':
      return runDiff(rest, io);
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
