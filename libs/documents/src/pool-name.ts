import { stringRule, type Rule } from './field-reader.js';

// Lower case so "Default" and "default" can never be two pools; at most 64 characters so a pool
// name fits a metric label and a log line.
const POOL_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** True for a pool name: [a-z0-9][a-z0-9_.-]*, at most 64 characters ("default", "video.hd"). */
export function isPoolName(text: string): boolean {
  return POOL_NAME.test(text);
}

/** The rule for a pool name in node `pools` and domain `pool`. */
export const poolNameRule: Rule<string> = stringRule('a pool name matching [a-z0-9][a-z0-9_.-]* (at most 64 characters)', isPoolName);
