/**
 * Checks for scenario parameters (`set KEY VALUE` lines) that every harness shares. Each returns the
 * problems it found, each naming the parameter, in the words `conclave sim run` prints.
 */
import type { Scenario } from './scenario.js';

/** Every listed parameter that is given must be a non-negative integer. */
export function checkIntegerParams(scenario: Scenario, keys: Iterable<string>): string[] {
  const problems: string[] = [];
  for (const key of keys) {
    const raw = scenario.params[key];
    if (raw !== undefined && !(Number.isInteger(Number(raw)) && Number(raw) >= 0))
      problems.push(`set ${key}: '${raw}' is not a non-negative integer`);
  }
  return problems;
}

/** A parameter that, when given, must be one of `choices` ("true or false", "a, b or c"). */
export function checkChoiceParam(scenario: Scenario, key: string, choices: readonly string[]): string[] {
  const raw = scenario.params[key];
  if (raw === undefined || choices.includes(raw)) return [];
  const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join('');
  return [`set ${key}: '${raw}' is not ${listed}`];
}

/**
 * When the parameters checked out, build the protocol's config once (for the first node) so that what
 * the config itself refuses (its own assertions) is reported as a scenario problem, not a crash.
 */
export function checkConfigBuilds(problems: string[], build: () => unknown): string[] {
  if (problems.length > 0) return problems;
  try {
    build();
  } catch (error) {
    return [...problems, (error as Error).message];
  }
  return problems;
}
