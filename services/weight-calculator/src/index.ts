export { createWeightCalculator } from './weight-calculator.js';
export type { WeightCalculator, WeightCalculatorOptions } from './weight-calculator.js';
export { createWeightPersister, toPersisted } from './weight-persistence.js';
export type { PersistedWeight, WeightPersister } from './weight-persistence.js';
export { decodeReportProbesRequest, weightCalculatorServiceDefinition } from './report-codec.js';
