// `{{key}}` placeholders filled with values taken literally: a function replacer, so `$&`, `$'`, `$1` and
// backslashes in values reach the output unchanged (String.replace with a string replacement would expand them).

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (_match, key: string) => {
    const value = Object.hasOwn(values, key) ? values[key] : undefined;
    if (value === undefined) throw new Error(`template placeholder "{{${key}}}" has no value`);
    return value;
  });
}
