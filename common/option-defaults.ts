/**
 * Completing an options object once: components state their defaults as one
 * named constant and resolve the caller's options against it at construction,
 * so use sites read plain fields (docs/decisions.md, "Options resolved once").
 */

/** What a caller may give for defaults `D`: any field, each possibly undefined (meaning "the default"). */
export type OptionsOf<D> = { [K in keyof D]?: D[K] | undefined };

/**
 * `defaults` with every field of `given` that is defined laid over it. Only
 * the keys of `defaults` are read, so an explicit `undefined` (an unset config
 * field passed through) keeps the default instead of erasing it.
 */
export function withDefaults<D extends object>(defaults: D, given: OptionsOf<D>): D {
  const out = { ...defaults };
  for (const k of Object.keys(defaults) as (keyof D)[]) {
    const v = given[k];
    if (v !== undefined) out[k] = v as D[keyof D];
  }
  return out;
}
