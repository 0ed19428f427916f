'use strict';
// loyalty-client - a Node client of loyaltyd.
//
//   const Redis = require('ioredis');
//   const loyalty = require('loyalty-client');
//   const till = new loyalty.Client(new Redis(6379));
//   await till.add(loyalty.purchase({ txn: 'T1-0001', member: 'M000042', store: 'S001', amount: 5999 }));
//   const out = await till.scan('M000042', 'S001');   // waits for the daemon's answer
//   console.log(out.tier, out.perks);
//
//   const feed = new loyalty.Consumer(new Redis(6379), { group: 'crm', name: 'crm-1' });
//   for (const ev of await feed.read({ count: 100, blockMs: 1000 })) { ...; await feed.ack(ev); }
//
// Entries are validated as the daemon's decoder does (ValidationError.code
// is the DLQ reason the daemon would give); partitionOf(member, P) says
// which partition a member belongs to.

const contract = require('./contract');
const client = require('./client');
const partition = require('./partition');

module.exports = { ...contract, ...client, ...partition };
