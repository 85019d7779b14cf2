// Parses an AsyncAPI document with @asyncapi/parser and fails on any error-level diagnostic.
// Usage: node validate.mjs <document>
import { Parser, fromFile } from "@asyncapi/parser";

const [, , documentPath] = process.argv;
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, documentPath).parse();
const ERROR = 0;
const errors = diagnostics.filter((diagnostic) => diagnostic.severity === ERROR);
for (const diagnostic of diagnostics) {
  const where = diagnostic.path.join(".") || "(document)";
  console.log(`${["error", "warning", "info", "hint"][diagnostic.severity]} ${where}: ${diagnostic.message}`);
}
if (errors.length > 0 || document === undefined) {
  console.log(`invalid: ${errors.length} error(s)`);
  process.exit(1);
}
const channels = document.channels().length;
const messages = document.components().messages().length;
const operations = document.operations().length;
console.log(`valid: AsyncAPI ${document.version()}, ${channels} channels, ${messages} messages, ${operations} operations`);
