// Live chat: a message any client sends reaches every connected client, and
// every new post is pushed too. Both travel over the bus, so they cross
// replicas when the chat service is split into several processes.

import { defineService } from 'cleave';
import { z } from 'zod';
import type { Post } from './posts.ts';

// Two replicas when split: a message sent to one reaches sockets held by the other, over the bus.
// Sticky: a client's reconnects land on the replica that held its socket (consistent hash on
// its address); messages still reach every replica's sockets through the bus.
export const chat = defineService('chat', { scale: { min: 2 }, balancer: 'consistent-hash' });

const Incoming = z.object({ type: z.literal('chat'), text: z.string().trim().min(1).max(500) });

interface ChatMessage {
  from: string;
  text: string;
  at: string;
}

chat.socket(
  '/ws/chat',
  {
    async message(socket, data, ctx) {
      const parsed = Incoming.safeParse(data);
      if (!parsed.success) {
        socket.send({
          type: 'error',
          error: {
            code: 'CLEAVE_VALIDATION_FAILED',
            message: 'send {"type":"chat","text":"..."} with 1-500 characters',
          },
        });
        return;
      }
      const message: ChatMessage = {
        from: ctx.user?.name ?? 'guest',
        text: parsed.data.text,
        at: new Date().toISOString(),
      };
      await ctx.emit('chat.message', message);
    },
    events: {
      'chat.message': (message: ChatMessage) => ({ type: 'chat', ...message }),
      'post.created': (post: Post) => ({ type: 'post', post }),
    },
  },
  { maxPayload: 4 * 1024 },
);
