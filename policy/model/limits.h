// Hard limits on what a policy or inventory may hold, checked while loading and after compiling,
// before anything reaches the kernel. A file or plan beyond a limit is refused whole (rule
// `too-large`); the daemon then keeps the enforcement it has. docs/security.md ("Bad input")
// gives each value with its reason; tests/policy/load/limits_test.cc checks each diagnostic.
#pragma once

#include <cstddef>

namespace bulkhead::policy::limits {

// Input files. The size is read before the file is: a mistaken path (a disk image, /dev/zero) or a
// runaway generator is refused without being read.
inline constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
// YAML nodes (scalars, maps, lists, aliases) in one file, counted by a first parser pass that
// builds nothing. yaml-cpp's tree costs about 100 bytes of memory per byte of text and about a
// second of CPU per MiB here: 240,000 nodes (1 MiB of dense policy, 24,000 one-line rules) peak at
// 120 MB. 250,000 leave room for 10,000 rules; a 100,000-rule file is refused after a quarter
// of it.
inline constexpr size_t kMaxNodes = 250000;
// The longest string Kubernetes itself stores: its total annotation size (256 KiB), which holds
// kubectl's last-applied-configuration copy of a whole object.
inline constexpr size_t kMaxScalarBytes = 256 * 1024;
// Policies nest six levels deep at most; 64 leaves room for Lists and flow style and keeps every
// recursive walk (parser, node destructors) far from the stack's end.
inline constexpr size_t kMaxDepth = 64;
// Documents in one file (`---` separated).
inline constexpr size_t kMaxDocuments = 10000;
// Items of any one list and entries of any one map (rules of a policy, peers of a rule, ports,
// endpoints of an inventory, labels, groups...).
inline constexpr size_t kMaxItems = 10000;
// Map entries and list items visited while reading one file, aliases expanded: bounds the work
// an alias bomb (a few lines that expand to billions of nodes) can ask for.
inline constexpr size_t kMaxVisits = 1000000;

// The loaded policy set, across all files.
inline constexpr size_t kMaxPolicies = 10000;  // Policy and NetworkPolicy documents
// Written allow rules (native `allow` entries, NetworkPolicy `ingress`/`egress` entries):
// compiling costs rules x endpoints, and a host enforces for tens to hundreds of endpoints.
inline constexpr size_t kMaxRules = 10000;

// Container labels (inventory, Docker): a key is at most a 253-character DNS prefix, '/', and a
// 63-character name, as in Kubernetes; values are free text for container engines (Compose puts
// 64-character hashes in them), so they get room but not unbounded room.
inline constexpr size_t kMaxLabelKeyBytes = 253 + 1 + 63;
inline constexpr size_t kMaxLabelValueBytes = 4096;
inline constexpr size_t kMaxNameBytes = 253;   // endpoint names (a DNS subdomain's length)
inline constexpr size_t kMaxPathBytes = 4095;  // netns paths (PATH_MAX without the NUL)

// One endpoint's table, which the daemon commits in one netlink transaction. A chain is evaluated
// rule by rule for every new connection and rebuilt by the kernel on each change (adding a rule to
// a 50,000-rule chain takes ~38 ms), so chains stay at 10,000 rules. Set lookups cost nothing
// measurable at any size, but every element travels in the same batch (about 100 bytes apiece
// with its interval end): 250,000 elements keep one transaction near 25 MiB, which
// tests/netlink/plan_limits_test.cc applies and reads back.
inline constexpr size_t kMaxRulesPerChain = 10000;
inline constexpr size_t kMaxSetsPerTable = 10000;
inline constexpr size_t kMaxElementsPerTable = 250000;

}  // namespace bulkhead::policy::limits
