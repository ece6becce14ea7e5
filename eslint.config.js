// ESLint for src/, test/ and bench/: typescript-eslint's rules that use the
// type checker (recommendedTypeChecked), which see what tsc alone lets pass:
// a promise nobody awaits or catches, a type assertion the compiler does not
// need, a value of type any spreading through the code, an import nothing
// uses. `npm run lint` runs it, then `prettier --check` for the layout.
// Each rule turned off or tuned below says why.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'prebuilds/', 'coverage/']),
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // The one tsconfig.json covers src/, test/ and bench/: the same types as `npx tsc -p .`.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test(), describe() and their aliases return a promise that
      // the runner itself awaits and reports; awaiting each one at the top of
      // a file would only serialise what the runner already orders.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      // The `l` flag asks V8's linear-time engine (--enable-experimental-regexp-engine)
      // for the patterns a user gives plog: src/plog/linear-regex.ts.
      'no-invalid-regexp': ['error', { allowConstructorFlags: ['l'] }],
      // A run of spaces in a pattern matches a column-aligned log line or
      // table as it is printed; ` {3}` would hide what is being matched.
      'no-regex-spaces': 'off',
      // `==` only against null (which means null or undefined), nowhere else.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Unused on purpose: a leading underscore (an argument a callback's
      // signature requires, an element skipped in a destructuring).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // A variable that a closure reads before its one assignment (a timer
      // that the callback it races clears) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A caught value (unknown) is passed on to reject() as it is.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A switch over a union type names every member, or has a default.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    // Tests and benches check escaping: their patterns match the raw control
    // characters (ESC, BEL, C1) that the code must never pass through.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-control-regex': 'off',
    },
  },
);
