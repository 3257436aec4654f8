/**
 * The model seeded table workloads check a database against: a table keyed by whole numbers,
 * one keyed by text, and a keyless one by row id, with the next row id the database will
 * hand out. Each test picks its own row types.
 */
export interface TablesModel<Keyed, Texted, Keyless> {
  keyed: Map<number, Keyed>;
  texted: Map<string, Texted>;
  keyless: Map<number, Keyless>;
  rowIdNext: number;
}

/** A copy to change inside a transaction or savepoint, kept or dropped as it commits or not. */
export function copyTablesModel<Keyed, Texted, Keyless>(
  model: TablesModel<Keyed, Texted, Keyless>,
): TablesModel<Keyed, Texted, Keyless> {
  return {
    keyed: new Map(model.keyed),
    texted: new Map(model.texted),
    keyless: new Map(model.keyless),
    rowIdNext: model.rowIdNext,
  };
}
