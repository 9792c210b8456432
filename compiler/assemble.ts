import { createHash } from 'node:crypto';
import type { ModelHeader, Preset } from '../formats/model.js';
import { formatVersionFor, usesInt4 } from '../formats/model.js';
import { readHeader } from '../formats/read.js';
import { writeLrm } from '../formats/write.js';
import { PayloadLayout, type LayoutInput } from './payload-layout.js';
import type { PrecisionChoice } from './precision.js';
import { COMPILER_VERSION } from './version.js';
import type { SequentialReport } from './sequential-rounding.js';

/** What assembleLrm writes: the payload's contents (compiler/payload-layout.ts) and what the header says of the source. */
export interface AssembleInput extends LayoutInput {
  /** The model file as the user gave it: the header records its hash and size. */
  source: Uint8Array;
  /** What import normalisation changed (compiler/import/normalise.ts), kept in the header's source info. */
  normalised?: string[];
  fileName: string;
}

/**
 * What an int4 file did with each weight: int4 or int8, how it was rounded, the error measured, and (when it ran) its
 * layer's output error before and after sequential rounding.
 */
export type Int4Report = Array<{ weight: string; sequential?: Omit<SequentialReport, 'weight'> } & Omit<PrecisionChoice, 'int4'>>;

/**
 * The .lrm: the payload laid out section by section (compiler/payload-layout.ts: dense, tiers, transient, refits),
 * then the header written around it and read back through every check the runtime makes.
 */
export async function assembleLrm(input: AssembleInput): Promise<{ lrm: Uint8Array; header: ModelHeader; int4?: Int4Report }> {
  const { source, normalised, fileName, model, dtype, int4: plan } = input;
  const layout = new PayloadLayout(input);
  const denseRange = layout.denseSection();
  const tiers = input.cuts.map((cut, t) => layout.tierSection(cut, t));
  layout.transientSections(tiers);
  input.refits?.forEach((perLayer, t) => {
    tiers[t].refit = layout.refitSection(perLayer, t);
  });
  const { initializers, layers } = layout;
  const grouped = usesInt4({ factorDType: dtype, graph: { initializers } });
  const int4ScaleCodes = grouped && plan!.grouping.scaleCodes === true;
  const header = {
    formatVersion: formatVersionFor({ factorDType: dtype, layers, graph: { initializers }, tiers, int4ScaleCodes: int4ScaleCodes || undefined }),
    compilerVersion: COMPILER_VERSION,
    source: {
      sha256: createHash('sha256').update(source).digest('hex'),
      fileName,
      bytes: source.length,
      irVersion: model.irVersion,
      producer: model.producer,
      opsets: model.opsets,
      ...(normalised?.length ? { normalised } : {}),
    },
    graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers },
    factorDType: dtype,
    layers,
    dense: { range: denseRange },
    tiers,
    presets: defaultPresets(tiers.length),
    ...(grouped ? { int4GroupSize: plan!.grouping.size, ...(int4ScaleCodes ? { int4ScaleCodes } : {}) } : {}),
  };
  const lrm = await writeLrm(header, layout.payload.finish());
  const sequential = new Map(plan?.sequential?.map(({ weight, ...entry }) => [weight, entry]));
  const report: Int4Report | undefined = plan && [...plan.choices].map(([weight, { int4: _, ...choice }]) => ({ weight, ...choice, ...(sequential.has(weight) ? { sequential: sequential.get(weight) } : {}) }));
  return { lrm, header: (await readHeader(lrm)).header, ...(report ? { int4: report } : {}) };
}

/** Unmeasured presets by tier count; `lowrank tune` replaces them with measured ones. */
function defaultPresets(tierCount: number): Preset[] {
  return [
    { name: 'compact', deviceClass: 'any', engine: 'any', tiers: 1 },
    { name: 'balanced', deviceClass: 'any', engine: 'any', tiers: Math.max(1, Math.ceil(tierCount / 2)) },
    { name: 'full', deviceClass: 'any', engine: 'any', tiers: tierCount },
  ];
}
