// Which editor column a scenario goes in while the results panel is open: never the panel's own
// group, where it would cover the panel (Quick Open and other openers use the active group, which is
// the panel's after a click in it). No vscode import: unit-tested directly.

/**
 * The column to show a scenario in. `columns` are the open editor groups' columns (1-based),
 * `panel` the results panel's column (undefined when it is not open), `shownIn` the columns where
 * the scenario is shown now. It is where the scenario is shown already outside the panel's group,
 * else the first group without the panel, else (the panel's group is the only one) a new group
 * right of the panel.
 */
export function scenarioColumn(columns: readonly number[], panel: number | undefined, shownIn: readonly number[] = []): number {
  const notPanel = (c: number) => c !== panel;
  const shown = shownIn.filter(notPanel);
  if (shown.length > 0) return Math.min(...shown);
  const others = columns.filter(notPanel);
  if (others.length > 0) return Math.min(...others);
  return panel === undefined ? 1 : panel + 1;
}
