"""The left pane: the run's agents as a tree, each node with its state and cost.

Nodes are added lazily: an agent's children become nodes the first time it is expanded, so a run
with tens of thousands of agents costs only the nodes a reader opens.
"""

from __future__ import annotations

import bisect

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from fast_rlm.logs.reader import AgentRecord, LogIndex, LogUpdate, agent_sort_key
from fast_rlm.logs.stats import format_cost
from fast_rlm.watch.terminal_text import printable_fields

STATUS_ICONS = {"done": "✓", "failed": "✗", "running": "●", "cancelled": "⊘", "unfinished": "?"}
STATUS_STYLES = {
    "done": "green",
    "failed": "bold red",
    "running": "yellow",
    "cancelled": "yellow",
    "unfinished": "dim",
}


def agent_label(record: AgentRecord) -> Text:
    record = printable_fields(record)  # agent ids, like everything else, are read from the log
    label = Text.assemble(
        (STATUS_ICONS[record.status] + " ", STATUS_STYLES[record.status]),
        (record.agent_id, "bold" if record.depth == 0 else ""),
        " ",
        (record.status, STATUS_STYLES[record.status]),
        " ",
        (format_cost(record.cost), "dim" if record.cost is None else "cyan"),
    )
    if record.step_errors:
        label.append(f" ⚠{record.step_errors}", "red")
    return label


class AgentTree(Tree[str]):
    """Agent ids as node data; the hidden tree root stands for the run."""

    def __init__(self, index: LogIndex, **kwargs: object) -> None:
        super().__init__("run", **kwargs)
        self.index = index
        self.show_root = False
        self.guide_depth = 3
        self.auto_expand = False  # Enter selects; space and clicks on the arrow expand
        self._agent_nodes: dict[str, TreeNode[str]] = {}
        self._populated_agents: set[str] = set()

    def on_mount(self) -> None:
        for root_id in self.index.root_ids:
            self._add_agent_node(self.root, root_id)
        for root_id in self.index.root_ids:
            self._populate(root_id)
            self._agent_nodes[root_id].expand()
        self.root.expand()

    def _add_agent_node(
        self, parent: TreeNode[str], agent_id: str, before: TreeNode[str] | None = None
    ) -> None:
        record = self.index.agents[agent_id]
        node = parent.add(
            agent_label(record), data=agent_id, before=before, allow_expand=bool(record.children)
        )
        self._agent_nodes[agent_id] = node

    def _populate(self, agent_id: str) -> None:
        if agent_id in self._populated_agents:
            return
        self._populated_agents.add(agent_id)
        for child_id in self.index.agents[agent_id].children:
            if child_id not in self._agent_nodes:
                self._add_agent_node(self._agent_nodes[agent_id], child_id)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        if event.node.data is not None:
            self._populate(event.node.data)

    def reveal(self, agent_id: str) -> None:
        """Expand the agent's ancestors, then put the cursor on it."""
        chain = []
        current: str | None = agent_id
        while current is not None and current in self.index.agents:
            chain.append(current)
            current = self.index.agents[current].parent_id
        for ancestor in reversed(chain[1:]):
            self._populate(ancestor)
            self._agent_nodes[ancestor].expand()
        # The tree lays out expanded nodes on its next refresh; the cursor can only land after it.
        self.call_after_refresh(self._put_cursor_on, agent_id)

    def _put_cursor_on(self, agent_id: str) -> None:
        node = self._agent_nodes.get(agent_id)
        if node is not None:
            self.move_cursor(node)
            self.scroll_to_node(node, animate=False)

    def node_of(self, agent_id: str) -> TreeNode[str] | None:
        return self._agent_nodes.get(agent_id)

    def apply_update(self, update: LogUpdate) -> None:
        """New agents become nodes where their parent is already shown; changed ones relabel."""
        for agent_id in update.new_agents:
            record = self.index.agents[agent_id]
            parent_id = record.parent_id if record.parent_id in self.index.agents else None
            if parent_id is None:
                self._add_agent_node(
                    self.root, agent_id, before=self._next_sibling_node(self.index.root_ids, agent_id)
                )
            else:
                parent_node = self._agent_nodes.get(parent_id)
                if parent_node is not None:
                    parent_node.allow_expand = True
                if parent_id not in self._populated_agents or parent_node is None:
                    continue  # it becomes a node when its parent is first expanded
                siblings = self.index.agents[parent_id].children
                self._add_agent_node(
                    parent_node, agent_id, before=self._next_sibling_node(siblings, agent_id)
                )
            # A new agent has no children yet: later ones are added as they arrive.
            self._populated_agents.add(agent_id)
        for agent_id in update.changed_agents:
            node = self._agent_nodes.get(agent_id)
            if node is not None:
                node.set_label(agent_label(self.index.agents[agent_id]))

    def _next_sibling_node(self, siblings: list[str], agent_id: str) -> TreeNode[str] | None:
        """The node to insert before so that siblings stay in number order (siblings are sorted)."""
        for sibling in siblings[
            bisect.bisect_right(siblings, agent_sort_key(agent_id), key=agent_sort_key) :
        ]:
            if sibling in self._agent_nodes:
                return self._agent_nodes[sibling]
        return None
