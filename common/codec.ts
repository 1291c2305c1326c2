/** Binary protobuf encode/decode for NATS payloads: the same messages as gRPC. */
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { ArswarmError, Code } from './errors.js';

/** Encodes a message (or its init shape) to bytes. */
export function encode<D extends DescMessage>(desc: D, msg: MessageInitShape<D>): Uint8Array {
  return toBinary(desc, create(desc, msg));
}

/** Decodes bytes, throwing an InvalidArgument error naming the type on garbage. */
export function decode<D extends DescMessage>(desc: D, data: Uint8Array): MessageShape<D> {
  try {
    return fromBinary(desc, data);
  } catch (err) {
    throw new ArswarmError(
      Code.InvalidArgument,
      `malformed ${desc.typeName} payload (${data.length} bytes)`,
      { cause: err },
    );
  }
}
