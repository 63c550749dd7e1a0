import { test } from "node:test";
import assert from "node:assert/strict";
import { renderString, renderTemplate, TemplateError } from "./template.js";

test("a string that is exactly one placeholder becomes the raw value, keeping its type", () => {
  const context = { uuid: "u-1", port: 1883, list: [1, 2], obj: { a: { b: true } } };
  const out = renderTemplate({ n: "{{port}}", l: "{{ list }}", o: "{{obj}}", deep: "{{obj.a.b}}", s: "{{uuid}}" }, context);
  assert.deepEqual(out, { n: 1883, l: [1, 2], o: { a: { b: true } }, deep: true, s: "u-1" });
});

test("raw values are copies, so changing the output never changes the context", () => {
  const context = { obj: { a: 1 } };
  const out = renderTemplate<{ o: { a: number } }>({ o: "{{obj}}" }, context);
  out.o.a = 2;
  assert.equal(context.obj.a, 1);
});

test("placeholders inside longer strings are substituted as text", () => {
  const out = renderTemplate(["edge-{{name}}", "{{name}}/{{uuid}}", "n={{n}} o={{o}}"],
    { name: "line-1", uuid: "abc", n: 5, o: { k: "v" } });
  assert.deepEqual(out, ["edge-line-1", "line-1/abc", 'n=5 o={"k":"v"}']);
});

test("replacement patterns in values are inserted literally", () => {
  const context = { amp: "a$&b", quote: "x$'y", back: "p$`q", dollars: "$$1", group: "$1" };
  assert.equal(renderString("[{{amp}}]", context), "[a$&b]");
  assert.equal(renderString("[{{quote}}] tail", context), "[x$'y] tail");
  assert.equal(renderString("head [{{back}}]", context), "head [p$`q]");
  assert.equal(renderString("{{dollars}}-{{group}}", context), "$$1-$1");
  assert.deepEqual(renderTemplate({ v: "{{amp}}" }, context), { v: "a$&b" });
});

test("inserted text is not scanned for placeholders again", () => {
  assert.equal(renderString("<{{a}}>", { a: "{{b}}", b: "nope" }), "<{{b}}>");
  assert.deepEqual(renderTemplate({ v: "{{a}}" }, { a: "{{b}}", b: "nope" }), { v: "{{b}}" });
});

test("keys are never templated and non-string values pass through", () => {
  const out = renderTemplate({ "{{name}}": 1, n: null, b: false, x: 2.5 }, { name: "z" });
  assert.deepEqual(out, { "{{name}}": 1, n: null, b: false, x: 2.5 });
});

test("a missing value is an error by default and can be kept", () => {
  assert.throws(() => renderTemplate({ v: "x-{{realm}}" }, { name: "a" }),
    (err: unknown) => err instanceof TemplateError && /"\{\{realm\}\}" has no value/.test(err.message));
  assert.throws(() => renderTemplate("{{a.b}}", { a: {} }), TemplateError);
  assert.deepEqual(renderTemplate({ v: "x-{{realm}}", w: "{{realm}}" }, {}, { onMissing: "keep" }),
    { v: "x-{{realm}}", w: "{{realm}}" });
});

test("lookups follow own properties only", () => {
  assert.throws(() => renderTemplate("{{constructor}}", {}), TemplateError);
  assert.throws(() => renderTemplate("{{a.toString}}", { a: {} }), TemplateError);
});
