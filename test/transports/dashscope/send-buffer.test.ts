import { describe, expect, it } from 'vitest';
import { sendBufferLimits } from '../../../src/transports/dashscope/ws-client.js';

describe('sendBufferLimits', () => {
  it('reads highWaterBytes/lowWaterBytes, with the deprecated highWaterMark/lowWaterMark as aliases the new names win over', () => {
    expect(sendBufferLimits({})).toEqual({});
    expect(sendBufferLimits({ highWaterBytes: 65536, lowWaterBytes: 1024 })).toEqual({ highWaterBytes: 65536, lowWaterBytes: 1024 });
    expect(sendBufferLimits({ highWaterMark: 4096, lowWaterMark: 512 })).toEqual({ highWaterBytes: 4096, lowWaterBytes: 512 });
    expect(sendBufferLimits({ highWaterBytes: 8192, highWaterMark: 4096 })).toEqual({ highWaterBytes: 8192 });
  });
});
