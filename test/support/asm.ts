// Tests assemble guests with the project's in-process assembler.
export { asm, assemble, initAssembler } from '../../guests/assembler.ts';
