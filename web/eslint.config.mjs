// Lint for the report page (browser script) and its Node tests and benchmark. Run from the
// repository root (npm run lint in web/ does): paths are relative to it.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    files: ['web/src/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'script', globals: globals.browser },
    rules: { strict: ['error', 'global'], 'no-var': 'error', 'prefer-const': 'error', eqeqeq: 'error' },
  },
  {
    // Node scripts; the functions they hand to page.evaluate run in the page.
    files: ['tests/browser/**/*.mjs', 'bench/**/*.mjs', 'web/*.mjs'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser },
    },
    rules: { 'no-var': 'error', 'prefer-const': 'error', eqeqeq: 'error' },
  },
];
