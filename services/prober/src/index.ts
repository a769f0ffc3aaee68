export { createProber } from './prober.js';
export type { Prober, ProberOptions } from './prober.js';
export { createMembership } from './membership.js';
export type { Membership, MembershipOptions } from './membership.js';
export { createReporter } from './reporter.js';
export type { Reporter, ReporterOptions } from './reporter.js';
