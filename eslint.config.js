import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "config/", "crds/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
    },
  },
  {
    // Product code never imports test support: the harness and fixtures live under e2e/ (harness/, support/).
    files: ["operators/**/*.ts"],
    ignores: ["operators/**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", {
        patterns: [{ group: ["**/e2e/**"], message: "product code must not import test support (e2e/); only *.test.ts may" }],
      }],
    },
  },
  {
    files: ["**/*.test.ts", "e2e/**/*.ts", "e2e/**/*.mjs", "operators/cli/**/*.ts", "operators/api/gen-crds.ts"],
    rules: { "no-console": "off" },
  },
  { files: ["**/*.mjs", "**/*.js"], languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", Buffer: "readonly" } } },
);
