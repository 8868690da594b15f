// #/servers — the server members and which one leads.  /v1/agent/members carries no
// index (Nomad answers it from gossip, not from the state store), so it is polled.

import { getJSON, poll } from "../api.js";
import { badge, h, section, table } from "../dom.js";

/**
 * Whether `member` is the raft leader whose RPC address /v1/status/leader gave.  As in
 * `nomad server members`: a member's RPC address is its "rpc_addr" tag (else its gossip
 * address) with its "port" tag.
 */
function isLeader(member, leader) {
  const tags = member.Tags || {};
  return Boolean(leader) && leader === `${tags.rpc_addr || member.Addr}:${tags.port}`;
}

export function mount(root) {
  document.title = "Servers · nomadjail";
  const list = section({ "data-test": "servers" });
  root.append(h("h1", {}, "Servers"), list.root);

  return poll(async (signal) => {
    const [members, leader] = await Promise.all([
      getJSON("/v1/agent/members", { signal }),
      getJSON("/v1/status/leader", { signal }),
    ]);
    return { members: (members.data && members.data.Members) || [], leader: leader.data || "" };
  }, {
    onError: (err) => list.fail(err),
    onData: ({ members, leader }) => {
      const sorted = [...members].sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
      const columns = [
        { title: "Name", cell: (m) => h("span", { "data-test": "server-name" }, m.Name) },
        { title: "Address", cell: (m) => m.Addr },
        { title: "Port", cell: (m) => String(m.Port), class: "num" },
        { title: "Status", cell: (m) => badge(m.Status, { "data-test": "server-status" }) },
        {
          title: "Leader",
          cell: (m) => (isLeader(m, leader)
            ? h("span", { class: "badge status-leader", "data-test": "server-leader" }, "leader")
            : h("span", { class: "muted" }, "—")),
        },
        { title: "Region", cell: (m) => (m.Tags || {}).region || "—" },
        { title: "Datacenter", cell: (m) => (m.Tags || {}).dc || "—" },
        { title: "Build", cell: (m) => (m.Tags || {}).build || "—" },
      ];
      list.show(
        h("p", { class: "muted", "data-test": "leader-address" },
          leader ? `Leader RPC address: ${leader}` : "No cluster leader."),
        table(columns, sorted, {
          test: "servers-table", rowTest: "server-row", rowKey: (m) => m.Name,
          empty: "No server members known.",
        }),
      );
    },
  });
}
