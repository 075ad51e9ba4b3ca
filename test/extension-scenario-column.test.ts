// Which editor column a scenario goes in while the results panel is open (extension/scenario_column.ts):
// never the panel's group, where it would cover the panel.
import { describe, expect, it } from 'vitest';
import { scenarioColumn } from '../extension/scenario_column';

describe('scenarioColumn', () => {
  it('the scenario opened in the panel\'s group goes to the first group without the panel', () => {
    expect(scenarioColumn([1, 2], 2, [2])).toBe(1);
    expect(scenarioColumn([1, 2, 3], 1, [1])).toBe(2);
    expect(scenarioColumn([3, 1, 2], 2)).toBe(1);
  });

  it('where the scenario is shown already outside the panel\'s group, it stays', () => {
    expect(scenarioColumn([1, 2, 3], 2, [3])).toBe(3);
    expect(scenarioColumn([1, 2, 3], 2, [2, 3])).toBe(3);
    expect(scenarioColumn([1, 2, 3], 1, [3, 2])).toBe(2);
  });

  it('the panel alone in its group: a new group right of it', () => {
    expect(scenarioColumn([1], 1, [1])).toBe(2);
    expect(scenarioColumn([1], 1)).toBe(2);
  });

  it('without a panel: where it is shown, else the first group', () => {
    expect(scenarioColumn([1, 2], undefined, [2])).toBe(2);
    expect(scenarioColumn([2, 1], undefined)).toBe(1);
    expect(scenarioColumn([], undefined)).toBe(1);
  });
});
