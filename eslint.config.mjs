// ESLint for the blocks' plain JavaScript (make quality). Each file is a classic script: a block's
// initialiser is a global function the XBlock runtime calls by name, and the shared helpers hang
// themselves on window (KafaatI18n, KafaatHttp, KafaatTerminal).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: ["**/vendor/**", "**/node_modules/**", ".venv*/**", ".tox/**", "build/**", "dist/**", "var/**", "tutor/**"],
  },
  js.configs.recommended,
  {
    files: ["xblocks/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: {
        ...globals.browser,
        KafaatI18n: "readonly",
        KafaatHttp: "readonly",
        KafaatTerminal: "readonly",
        Terminal: "readonly",
        FitAddon: "readonly",
        WebLinksAddon: "readonly",
      },
    },
    rules: {
      // Block initialisers are called by the runtime, by name: defined here, used elsewhere.
      "no-unused-vars": ["error", { varsIgnorePattern: "^Kafaat", args: "after-used" }],
      eqeqeq: ["error", "always"],
      "no-implicit-globals": "off",
      "no-var": "off",
    },
  },
  {
    // The interop tier's checker (tests/interop/): a Node ES module run by pytest.
    files: ["tests/interop/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
    rules: { eqeqeq: ["error", "always"] },
  },
];
