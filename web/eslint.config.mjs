// Lint for the report page (browser script) and its Node tests and benchmark. Run from the
// repository root (npm run lint in web/ does): paths are relative to it.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    // The page's script: web/embed.cmake concatenates these files (order: web/report_js.cmake)
    // into one function that declares the namespace object `mpheap`, their only shared name; so
    // a file declares nothing at its top level, it puts what it exports on `mpheap`.
    files: ['web/src/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'script',
      globals: { ...globals.browser, mpheap: 'readonly' },
    },
    rules: {
      strict: ['error', 'global'],
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program > :matches(VariableDeclaration, FunctionDeclaration, ClassDeclaration)',
          message: 'the page script files share one scope: put what a file exports on `mpheap`',
        },
      ],
    },
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
