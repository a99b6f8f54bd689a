import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A stand-in for cluster DNS: a small authoritative DNS server over UDP on a free loopback port,
 * answering A and AAAA queries for the names it is given (as a Kubernetes headless service's name
 * answers with its ready pods' addresses). Gateways reach it through a discovery entry's `servers`.
 * Any other name is NXDOMAIN; a known name asked for another record type is an empty answer
 * (NODATA). It implements the part of RFC 1035 those queries need and nothing more: one question
 * per message, no recursion, no TCP, no truncation (answers stay far below 512 bytes).
 */
export interface DnsServer {
  /** `127.0.0.1:port`, the form a discovery entry's `servers` takes. */
  readonly address: string;
  /** Replaces the addresses a name answers with (IPv4 go in A records, IPv6 in AAAA). */
  setAddresses(name: string, addresses: readonly string[]): void;
  /** Queries answered so far for `name` (any type). */
  queries(name: string): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_RD = 0x0100;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;
/** Short, so a change of the answer is seen on the gateways' next refresh even by a caching resolver. */
const TTL_SECONDS = 1;

interface Question {
  /** Lower case, without the trailing dot. */
  readonly name: string;
  readonly type: number;
  /** Offset just past the question (QNAME, QTYPE, QCLASS). */
  readonly end: number;
}

/** The message's first question, or undefined when it is not a well-formed query. */
function parseQuestion(message: Buffer): Question | undefined {
  if (message.length < HEADER_BYTES || (message.readUInt16BE(2) & FLAG_QR) !== 0 || message.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    const length = message[offset];
    if (length === undefined || length > 63) return undefined; // compression pointers never occur in a question
    offset += 1;
    if (length === 0) break;
    if (offset + length > message.length) return undefined;
    labels.push(message.toString('latin1', offset, offset + length).toLowerCase());
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return { name: labels.join('.'), type: message.readUInt16BE(offset), end: offset + 4 };
}

function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand "::" into the missing zero groups, then write eight 16-bit groups.
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2));
  return bytes;
}

/** The response to `query`: its header and question echoed, with `answers` (RDATA of `type`) or an error code. */
function response(query: Buffer, question: Question | undefined, rcode: number, answers: readonly Buffer[]): Buffer {
  const echoed = question === undefined ? Buffer.alloc(0) : query.subarray(HEADER_BYTES, question.end);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(query.length >= 2 ? query.readUInt16BE(0) : 0, 0);
  const recursionDesired = query.length >= 4 ? query.readUInt16BE(2) & FLAG_RD : 0;
  header.writeUInt16BE(FLAG_QR | FLAG_AA | recursionDesired | rcode, 2);
  header.writeUInt16BE(question === undefined ? 0 : 1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((rdata) => {
    const record = Buffer.alloc(12 + rdata.length);
    record.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // the name: a pointer to the question's
    record.writeUInt16BE(question!.type, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SECONDS, 6);
    record.writeUInt16BE(rdata.length, 10);
    rdata.copy(record, 12);
    return record;
  });
  return Buffer.concat([header, echoed, ...records]);
}

export async function startDnsServer(): Promise<DnsServer> {
  const zone = new Map<string, string[]>();
  const asked = new Map<string, number>();
  const socket = createSocket('udp4');
  socket.on('message', (query: Buffer, peer: RemoteInfo) => {
    const question = parseQuestion(query);
    let reply: Buffer;
    if (question === undefined) {
      reply = response(query, undefined, RCODE_FORMERR, []);
    } else {
      asked.set(question.name, (asked.get(question.name) ?? 0) + 1);
      const addresses = zone.get(question.name);
      const family = question.type === TYPE_A ? isIPv4 : question.type === TYPE_AAAA ? isIPv6 : () => false;
      reply =
        addresses === undefined
          ? response(query, question, RCODE_NXDOMAIN, [])
          : response(query, question, 0, addresses.filter((address) => family(address)).map(addressBytes));
    }
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    setAddresses: (name, addresses) => {
      zone.set(name.toLowerCase().replace(/\.$/, ''), [...addresses]);
    },
    queries: (name) => asked.get(name.toLowerCase().replace(/\.$/, '')) ?? 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
