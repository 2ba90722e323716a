// The workflow drawn as the case moved through it: loaded on demand (its own chunk), so the
// first page stays small. States in the workflow's order, the path taken and the current
// state marked; each state lists the actions leaving it.
import { h } from "./dom";
import { STATE } from "./labels";

interface Flow {
  states: { name: string; title: string }[];
  actions: { name: string; title: string; from: string[]; to: string }[];
}

export function drawWorkflow(flow: Flow, visited: Set<string>, current: string): HTMLElement {
  return h("ol", { class: "diagram", "aria-label": "工作流" },
    ...flow.states.map(({ name, title }) => {
      const leaving = flow.actions.filter((a) => a.from.includes(name));
      const mark = name === current ? "current" : visited.has(name) ? "visited" : "";
      return h("li", { class: mark, "data-state": name, "aria-current": name === current ? "step" : null },
        h("strong", {}, title || STATE[name as keyof typeof STATE] || name),
        leaving.length
          ? h("small", {}, " → ", leaving.map((a) => `${a.title || a.name}（${STATE[a.to as keyof typeof STATE] ?? a.to}）`).join("；"))
          : null);
    }));
}
