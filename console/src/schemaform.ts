// Forms generated from the OpenAPI document's JSON schemas: the same schemas the server
// validates with, so a form asks for what the request needs. The server's 422 is shown
// field by field next to the inputs it names.
import { h } from "./dom";
import { FIELD } from "./labels";

type Schema = Record<string, unknown>;
let spec: Promise<Schema> | null = null;

/** The OpenAPI document (once per page). */
export function openapi(): Promise<Schema> {
  spec ??= fetch("/openapi.json").then((r) => r.json() as Promise<Schema>);
  return spec;
}

function resolve(doc: Schema, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref === "string") {
    const name = ref.split("/").pop() ?? "";
    const components = (doc.components as Schema).schemas as Record<string, Schema>;
    return resolve(doc, components[name] ?? {});
  }
  const options = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (options) {
    const real = options.filter((o) => o.type !== "null");
    if (real.length === 1 && real[0]) return { ...resolve(doc, real[0]), nullable: true, description: schema.description };
  }
  return schema;
}

/** The request body schema of an operation (method + path as the document spells them). */
export async function bodySchema(path: string, method: string): Promise<Schema | null> {
  const doc = await openapi();
  const operation = ((doc.paths as Schema)[path] as Schema | undefined)?.[method] as Schema | undefined;
  const content = ((operation?.requestBody as Schema | undefined)?.content as Schema | undefined)?.[
    "application/json"
  ] as Schema | undefined;
  return content?.schema ? resolve(doc, content.schema as Schema) : null;
}

export interface Form {
  element: HTMLElement;
  value(): Record<string, unknown>;
  showErrors(errors: { field: string; message: string }[]): void;
}

/** A form for an object schema; `initial` fills fields (an example, today's date). */
export async function buildForm(schema: Schema, initial: Record<string, unknown> = {}): Promise<Form> {
  const doc = await openapi();
  const readers: [string, () => unknown][] = [];
  const slots = new Map<string, HTMLElement>();

  function field(path: string, name: string, raw: Schema, required: boolean, start: unknown): HTMLElement {
    const schema = resolve(doc, raw);
    const id = `f-${path.replace(/\./g, "-")}`;
    const label = `${FIELD[name] ?? name}${required ? " *" : ""}`;
    const error = h("div", { class: "field-error", role: "alert", "data-field": path });
    slots.set(path, error);
    if (schema.type === "object" && schema.properties) {
      const inner = object(path, schema, (start as Record<string, unknown>) ?? {});
      return h("fieldset", { "data-field": path }, h("legend", {}, label), inner, error);
    }
    let input: HTMLElement;
    let read: () => unknown;
    const enumeration = schema.enum as string[] | undefined;
    if (enumeration) {
      const select = h("select", { id, name: path },
        schema.nullable || !required ? h("option", { value: "" }, "—") : null,
        ...enumeration.map((v) => h("option", { value: v, selected: v === start }, v))) as HTMLSelectElement;
      input = select;
      read = () => select.value || undefined;
    } else if (schema.type === "boolean") {
      const box = h("input", { id, name: path, type: "checkbox", checked: start === true }) as HTMLInputElement;
      input = box;
      read = () => box.checked;
    } else if (schema.type === "array") {
      const items = resolve(doc, (schema.items as Schema) ?? {});
      if (items.enum) {
        const select = h("select", { id, name: path, multiple: true },
          ...(items.enum as string[]).map((v) => h("option", { value: v, selected: Array.isArray(start) && start.includes(v) }, v))) as HTMLSelectElement;
        input = select;
        read = () => Array.from(select.selectedOptions).map((o) => o.value);
      } else {
        const area = h("textarea", { id, name: path, rows: 3 }, Array.isArray(start) ? start.join("\n") : "") as HTMLTextAreaElement;
        input = area;
        read = () => area.value.split("\n").map((l) => l.trim()).filter(Boolean);
      }
    } else if (schema.type === "integer" || schema.type === "number") {
      const box = h("input", { id, name: path, type: "number", value: start === undefined ? "" : String(start) }) as HTMLInputElement;
      input = box;
      read = () => (box.value === "" ? undefined : Number(box.value));
    } else {
      const date = schema.format === "date";
      const long = (schema.maxLength as number | undefined ?? 0) > 200;
      const box = (long
        ? h("textarea", { id, name: path, rows: 3 }, start === undefined ? "" : String(start))
        : h("input", { id, name: path, type: date ? "date" : "text", value: start === undefined ? "" : String(start) })) as HTMLInputElement;
      input = box;
      read = () => (box.value.trim() === "" ? undefined : box.value.trim());
    }
    readers.push([path, read]);
    return h("div", { class: "field" }, h("label", { for: id }, label), input, error);
  }

  function object(prefix: string, schema: Schema, start: Record<string, unknown>): HTMLElement[] {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    return Object.entries((schema.properties as Record<string, Schema>) ?? {}).map(([name, property]) =>
      field(prefix ? `${prefix}.${name}` : name, name, property, required.has(name), start[name]),
    );
  }

  const element = h("div", { class: "schema-form" }, ...object("", schema, initial));
  return {
    element,
    value() {
      const out: Record<string, unknown> = {};
      for (const [path, read] of readers) {
        const value = read();
        // an empty field is left out, so the model's default applies
        if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
        let target = out;
        const parts = path.split(".");
        for (const part of parts.slice(0, -1)) target = (target[part] ??= {}) as Record<string, unknown>;
        target[parts[parts.length - 1] as string] = value;
      }
      return out;
    },
    showErrors(errors) {
      for (const slot of slots.values()) slot.textContent = "";
      for (const error of errors) {
        const path = error.field.replace(/^body\./, "");
        const slot = slots.get(path) ?? slots.get(path.split(".").slice(0, -1).join(".")) ?? null;
        if (slot) slot.textContent = error.message;
      }
    },
  };
}
