/**
 * A `.catch` for a wait on a process's output: fails with the wait's error and the last `tail`
 * characters the process had printed when the wait gave up. (A message built when the wait starts
 * holds only what was printed by then: empty for a start that never came.)
 */
export function failWithOutput(output: () => string, tail = 4000): (error: Error) => never {
  return (error) => {
    throw new Error(`${error.message}:\n${output().slice(-tail)}`);
  };
}
