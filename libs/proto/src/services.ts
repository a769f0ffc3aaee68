import type { DescFile } from '@bufbuild/protobuf';
import { ConfigWatcherService, file_cdn_sched_v1_config_watcher } from './gen/cdn/sched/v1/config_watcher_pb.js';
import { ProberService, file_cdn_sched_v1_prober } from './gen/cdn/sched/v1/prober_pb.js';
import { ResolverService, file_cdn_sched_v1_resolver } from './gen/cdn/sched/v1/resolver_pb.js';
import { WeightCalculatorService, file_cdn_sched_v1_weight_calculator } from './gen/cdn/sched/v1/weight_calculator_pb.js';
import { createServiceDefinition } from './service-definition.js';

/** nice-grpc definitions of every service cdn-sched serves or calls. */
export const serviceDefinitions = {
  configWatcher: createServiceDefinition(ConfigWatcherService),
  prober: createServiceDefinition(ProberService),
  weightCalculator: createServiceDefinition(WeightCalculatorService),
  resolver: createServiceDefinition(ResolverService),
} as const;

/** The proto files each cdn-sched service registers with server reflection. */
export const reflectionFiles: Record<'configWatcher' | 'prober' | 'weightCalculator' | 'resolver', DescFile> = {
  configWatcher: file_cdn_sched_v1_config_watcher,
  prober: file_cdn_sched_v1_prober,
  weightCalculator: file_cdn_sched_v1_weight_calculator,
  resolver: file_cdn_sched_v1_resolver,
};
