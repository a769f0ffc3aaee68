import { Strategy } from '@cdn-sched/proto';
import { createConfigConsumer, type ConfigConsumerOptions, type ConfigEntry, type StreamConsumer } from '@cdn-sched/stream';
import { canonicalName } from './dns/names.js';
import { createZoneModel, type ApexSettings, type ZoneModel } from './dns/zone-model.js';

/** Options of {@link createDomainSource}. */
export interface DomainSourceOptions {
  consumerId: string;
  /** config-watcher address. */
  configTarget: string;
  /** Credentials (mutual TLS) and limits of the channel. Defaults to plaintext. */
  transport?: ConfigConsumerOptions['transport'];
  /** Past this age without confirmation the config view is stale, milliseconds. Defaults to 10 s. */
  maxStalenessMs?: number;
  /** Zones given by the operator; empty means derived from the policy names. */
  explicitZones: readonly string[];
  apex: ApexSettings;
  /** After every rebuild: the new model and the config version it reflects. */
  onChange?(model: ZoneModel, version: number): void;
}

/** The policy names and zones the gateway serves, kept in step with the config stream. */
export interface DomainSource {
  readonly model: ZoneModel;
  readonly version: number;
  readonly consumer: StreamConsumer<ConfigEntry>;
  ready(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * Learns the policy names from the config-watcher's stream (the same consumer the resolver uses)
 * and rebuilds the immutable zone model after each applied update, so a query never sees half of
 * a change. Nodes do not matter here: answers come from the resolvers.
 */
export function createDomainSource(options: DomainSourceOptions): DomainSource {
  let model = createZoneModel({ policies: [], explicitZones: options.explicitZones, apex: options.apex });
  let version = 0;
  const consumer = createConfigConsumer({
    target: options.configTarget,
    transport: options.transport,
    consumerId: options.consumerId,
    maxStalenessMs: options.maxStalenessMs,
    onApplied: (update, entries) => {
      version = update.version;
      const domainsChanged = update.snapshot || update.changes.some((c) => c.key.startsWith('domain/'));
      if (domainsChanged) {
        const policies = [];
        for (const e of entries.values()) {
          if (e.kind === 'domain') policies.push({ name: canonicalName(e.domain.domain), consistent: e.domain.strategy === Strategy.CONSISTENT });
        }
        model = createZoneModel({ policies, explicitZones: options.explicitZones, apex: options.apex });
      }
      options.onChange?.(model, version);
    },
  });
  return {
    get model() {
      return model;
    },
    get version() {
      return version;
    },
    consumer,
    ready: (signal) => consumer.ready(signal),
    close: () => consumer.close(),
  };
}
