/**
 * Range checks for the options of the domain factories. A misconfigured option fails at
 * construction with a message that names it, instead of producing NaN weights hours later.
 */

/** Throws a `RangeError` unless `value` is an integer in [min, max]. */
export function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/** Throws a `RangeError` unless `value` is a finite number in [min, max]. */
export function requireNumber(name: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
}
