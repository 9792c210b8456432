/**
 * Feeds → the best classes, on a loaded image classifier: the scores are one [1, classes] output of the model. The
 * feeds come from decode-pool.ts, which preprocesses exactly as `lowrank run --input x.jpg --mean … --std …` does.
 */
import { imageInputLayout } from '../../compiler/data/tensor-file.js';
import type { Feeds, LrmSession } from '../../runtime/node.js';

export interface Scored {
  index: number;
  /** The class name from the labels file; null without one. */
  label: string | null;
  score: number;
}

/** The model is not an image classifier this service can feed, or the labels do not fit it: a startup error. */
export class ModelShapeError extends Error {
  override name = 'ModelShapeError';
}

export class Classifier {
  private constructor(
    private readonly session: LrmSession,
    private readonly output: string,
    private readonly labels: readonly string[] | undefined,
    private readonly top: number,
  ) {}

  /** Checks, once, that the session takes one NCHW float image and has a [N, classes] output that fits the labels. */
  static create(session: LrmSession, options: { output?: string; labels?: readonly string[]; top: number }): Classifier {
    if (session.inputs.length !== 1) throw new ModelShapeError(`the model has ${session.inputs.length} inputs; an image classifier has one`);
    try {
      imageInputLayout(session.inputs[0]!, 'the model');
    } catch (e) {
      throw new ModelShapeError((e as Error).message);
    }
    const scores = session.outputs.filter((o) => o.shape.length === 2);
    const chosen = options.output === undefined ? scores[0] : session.outputs.find((o) => o.name === options.output);
    const names = session.outputs.map((o) => `${o.name} [${o.shape.join(',')}]`).join(', ');
    if (!chosen) throw new ModelShapeError(`${options.output === undefined ? 'no [N, classes] output' : `no output named "${options.output}"`}; the outputs are ${names}`);
    const classes = chosen.shape[1];
    if (chosen.shape.length !== 2) throw new ModelShapeError(`output ${chosen.name} has shape [${chosen.shape.join(',')}], not [N, classes]`);
    if (options.labels && typeof classes === 'number' && options.labels.length !== classes) {
      throw new ModelShapeError(`the labels file names ${options.labels.length} classes, output ${chosen.name} has ${classes}`);
    }
    return new Classifier(session, chosen.name, options.labels, options.top);
  }

  /** The `top` best classes, best first. */
  async classify(feeds: Feeds, adapter: string | undefined): Promise<Scored[]> {
    const outputs = await this.session.run(feeds, { adapter });
    const values = Array.from(outputs[this.output]!.data as ArrayLike<number | bigint>, Number);
    const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]!);
    return order.slice(0, this.top).map((index) => ({ index, label: this.labels?.[index] ?? null, score: values[index]! }));
  }
}
