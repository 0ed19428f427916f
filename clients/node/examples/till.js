#!/usr/bin/env node
'use strict';
// A till, end to end: enrols a customer, rings up a sale, scans the card
// (the daemon answers with the member's perks), and redeems points.
//
//   node clients/node/examples/till.js --redis 127.0.0.1:6379 --member M-TILL-1
//
// Prints one line per step, e.g.
//   enrolled M-TILL-1
//   sale T1-...-sale: 2500.00 -> +2600 points (balance 2600), tier gold
//   scan at S001: tier gold
//   perk free_delivery
//   perk priority_service
//   redeem 100 points: ok, balance 2500

const { parseArgs } = require('node:util');
const Redis = require('ioredis');
const loyalty = require('..');

const USAGE = `Usage: till.js [--redis HOST:PORT] [--prefix P] [--member ID] [--store S]
                [--amount CENTS] [--redeem POINTS]
A till: enrol, sale, card scan with its perks, redeem.`;

async function main() {
  const { values: a } = parseArgs({
    options: {
      redis: { type: 'string', default: '127.0.0.1:6379' },
      prefix: { type: 'string', default: loyalty.DEFAULT_PREFIX },
      member: { type: 'string', default: 'M-TILL-1' },
      store: { type: 'string', default: 'S001' },
      amount: { type: 'string', default: '250000' },
      redeem: { type: 'string', default: '100' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  const amount = Number(a.amount);
  const points = Number(a.redeem);
  const [host, port] = [a.redis.slice(0, a.redis.lastIndexOf(':')), Number(a.redis.split(':').pop())];
  const redis = new Redis({ host, port, maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    const till = new loyalty.Client(redis, { prefix: a.prefix });
    const run = `T1-${process.hrtime.bigint()}`; // this run's txns: a rerun is a new visit

    let out = await till.submit(loyalty.enroll({ txn: `${run}-enroll`, member: a.member }));
    console.log(out.ok ? `enrolled ${a.member}` : `enrol: ${out.rejected.reason} (already a member?)`);

    out = await till.submit(loyalty.purchase({ txn: `${run}-sale`, member: a.member, store: a.store, amount }));
    if (!out.ok) throw new Error(`sale rejected: ${out.rejected.reason}: ${out.rejected.detail}`);
    const changes = out.ofKind('points.changed');
    const earned = changes.reduce((sum, e) => sum + e.delta, 0);
    const tiers = out.ofKind('tier.changed').map((e) => e.to);
    console.log(`sale ${run}-sale: ${(amount / 100).toFixed(2)} -> +${earned} points ` +
      `(balance ${changes.length ? changes[changes.length - 1].balance : '?'})` +
      (tiers.length ? `, tier ${tiers[tiers.length - 1]}` : ''));

    out = await till.scan(a.member, a.store);
    console.log(`scan at ${a.store}: tier ${out.tier ?? '(no perks)'}`);
    for (const perk of out.perks) console.log(`perk ${perk}`);

    out = await till.submit(loyalty.redeem({ txn: `${run}-redeem`, member: a.member, points }));
    const result = out.ofKind('redeem.result')[0];
    console.log(`redeem ${points} points: ${result.ok ? 'ok' : result.error}, balance ${result.balance}`);
    return result.ok ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}

main().then((rc) => { process.exitCode = rc; }, (e) => {
  console.error(`till.js: ${e.message}`);
  process.exitCode = 1;
});
