// "1 passage", "2 passages": a count with its noun, in the singular when there is one.
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
