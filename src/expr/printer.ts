/**
 * @module Prints an AST back to RQL source with the fewest parentheses that keep its shape:
 * parsing the output gives an equal AST (positions aside). Used for error fragments, plans and
 * the round-trip property test.
 */
import { unreachable } from "../lib/assert.ts";
import { reservedWords } from "./ast.ts";
import type { BinaryOp, Expr, LiteralExpr } from "./ast.ts";

/** Binding strength of each level, as parser.ts orders them (higher binds tighter). */
const precedence = {
  or: 1,
  xor: 2,
  and: 3,
  not: 4,
  comparison: 5,
  coalesce: 6,
  additive: 7,
  multiplicative: 8,
  unary: 9,
  primary: 10,
} as const;

const identifierPattern = /^[\p{Alphabetic}_][\p{Alphabetic}\p{N}_]*$/u;
const segmentPattern = /^[\p{Alphabetic}\p{N}_]+$/u;

const operandLevel = precedence.coalesce;

function binaryPrecedence(op: BinaryOp): number {
  switch (op) {
    case "or":
      return precedence.or;
    case "xor":
      return precedence.xor;
    case "and":
      return precedence.and;
    case "??":
      return precedence.coalesce;
    case "+":
    case "-":
      return precedence.additive;
    case "*":
    case "/":
    case "%":
      return precedence.multiplicative;
    default:
      return precedence.comparison;
  }
}

function precedenceOf(node: Expr): number {
  switch (node.type) {
    case "binary":
      return binaryPrecedence(node.op);
    case "unary":
      return node.op === "not" ? precedence.not : precedence.unary;
    case "between":
    case "in":
      return precedence.comparison;
    default:
      return precedence.primary;
  }
}

/** Prints `node`, in parentheses when it binds looser than `minimum`. */
function printAt(node: Expr, minimum: number): string {
  const text = printNode(node);
  return precedenceOf(node) < minimum ? `(${text})` : text;
}

/**
 * Prints an expression as source text.
 *
 * @example
 * printExpression(parseExpression("(a + b) * 2")); // -> "(a + b) * 2"
 */
export function printExpression(node: Expr): string {
  return printNode(node);
}

function printNode(node: Expr): string {
  switch (node.type) {
    case "literal":
      return printLiteral(node);
    case "field":
      return node.path.map((part, i) => (i === 0 ? part : `.${part}`)).join("");
    case "param":
      return `$${node.name}`;
    case "list":
      return `[${node.items.map((item) => printNode(item)).join(", ")}]`;
    case "record":
      return `{${node.entries.map((e) => `${printKey(e.key)}: ${printNode(e.value)}`).join(", ")}}`;
    case "call":
      return `${node.namespace}::${node.name}(${node.args.map((a) => printNode(a)).join(", ")})`;
    case "unary":
      return printUnary(node.op, node.operand);
    case "binary": {
      const level = binaryPrecedence(node.op);
      // Comparisons do not chain, so both sides of one must bind tighter than it.
      const leftLevel = level === precedence.comparison ? level + 1 : level;
      return `${printAt(node.left, leftLevel)} ${node.op} ${printAt(node.right, level + 1)}`;
    }
    case "between": {
      // Operands of between and in are parsed one level above comparisons (at `??`).
      const [low, high] = [printAt(node.low, operandLevel), printAt(node.high, operandLevel)];
      const keyword = node.negated ? "not between" : "between";
      return `${printAt(node.operand, operandLevel)} ${keyword} ${low} and ${high}`;
    }
    case "in": {
      const [operand, list] = [
        printAt(node.operand, operandLevel),
        printAt(node.list, operandLevel),
      ];
      return `${operand} ${node.negated ? "not in" : "in"} ${list}`;
    }
    default:
      return unreachable(node);
  }
}

function printUnary(op: "-" | "not", operand: Expr): string {
  if (op === "not") return `not ${printAt(operand, precedence.not)}`;
  const inner = printAt(operand, precedence.unary);
  // `--` would start a comment, so a nested minus gets parentheses.
  return inner.startsWith("-") ? `-(${inner})` : `-${inner}`;
}

function printLiteral(node: LiteralExpr): string {
  switch (node.kind) {
    case "none":
      return "none";
    case "bool":
      return node.value ? "true" : "false";
    case "integer":
      return `${node.value}`;
    case "float":
      return printFloat(node.value);
    case "string":
      return printString(node.value);
    case "duration":
      return node.value.toString();
    default:
      return unreachable(node);
  }
}

/** A float always prints with a point or an exponent, so it lexes back as a float. */
function printFloat(value: number): string {
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** A double-quoted string using the escapes the lexer decodes. */
export function printString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (char === "\r") out += "\\r";
    else if (code < 32 || code === 127) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return `${out}"`;
}

function printKey(key: string): string {
  return identifierPattern.test(key) ? key : printString(key);
}

/** True when `segment` can follow a `.` in a field path without quoting. */
export function isPathSegment(segment: string): boolean {
  return segmentPattern.test(segment);
}

/** True when `name` can be a field root: an identifier that is not a reserved word. */
export function isRootName(name: string): boolean {
  return identifierPattern.test(name) && !reservedWords.has(name.toLowerCase());
}
