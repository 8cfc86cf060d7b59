#include "enforcer/sources/cluster/source.h"

#include <algorithm>
#include <cerrno>

#include "enforcer/log/log.h"

namespace bulkhead::daemon {
namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// What etcd holds of this node's keys: value and lease, by key.
struct Held {
  std::string value;
  int64_t lease = 0;
};

}  // namespace

ClusterSource::ClusterSource(Options options) : options_(std::move(options)) {}

ClusterSource::~ClusterSource() { stop(); }

std::string ClusterSource::name() const { return "etcd:" + join(options_.urls, ","); }

Status ClusterSource::start(std::function<void()> changed) {
  const std::string op = "start " + name();
  if (watcher_.joinable()) return make_error(op, "already started");
  if (!cluster::valid_node_name(options_.node))
    return make_error(op, "bad node name '" + options_.node + "'");
  changed_ = changed ? std::move(changed) : [] {};
  stopping_.store(false);
  etcd::Config config{options_.urls, options_.tls, options_.request_timeout};
  auto w = etcd::Client::create(config);
  if (!w) return make_error(op, w.error().to_string());
  watch_client_ = std::move(*w);
  if (options_.publish) {
    auto k = etcd::Client::create(config);
    if (!k) return make_error(op, k.error().to_string());
    keep_client_ = std::move(*k);
  }
  {
    std::lock_guard lock(mu_);
    started_ = Clock::now();
  }
  try {
    notifier_ = std::thread(&ClusterSource::run_notifier, this);
    watcher_ = std::thread(&ClusterSource::run_watcher, this);
    if (options_.publish) keeper_ = std::thread(&ClusterSource::run_keeper, this);
  } catch (const std::system_error& e) {
    stop();
    return make_error(op, e.what(), e.code().value());
  }
  return {};
}

void ClusterSource::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  { std::lock_guard lock(notify_mu_); }
  notify_cv_.notify_all();
  // The lease is not revoked: a daemon that stops leaves enforcement in place, and its peers
  // keep reaching its endpoints until the lease runs out (or its successor takes the keys over).
  if (watch_client_) watch_client_->interrupt();
  if (keep_client_) keep_client_->interrupt();
  for (auto* t : {&watcher_, &keeper_, &notifier_})
    if (t->joinable()) t->join();
  watch_client_.reset();
  keep_client_.reset();
}

Snapshot ClusterSource::snapshot() {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.ready = ready_;
  s.error = !watch_error_.empty() ? watch_error_ : keeper_error_;
  s.endpoints.reserve(remote_.size());
  for (const auto& [key, ep] : remote_) s.endpoints.push_back(ep);
  std::sort(s.endpoints.begin(), s.endpoints.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return s;
}

ClusterSource::ClusterStatus ClusterSource::status() {
  std::lock_guard lock(mu_);
  ClusterStatus st;
  st.connected = listed_ && watch_error_.empty() && keeper_error_.empty();
  st.error = !watch_error_.empty() ? watch_error_ : keeper_error_;
  st.revision = revision_;
  st.remote_endpoints = remote_.size();
  for (const auto& [node, info] : nodes_) st.nodes.push_back(info);
  return st;
}

void ClusterSource::publish(const policy::Endpoints& local, const std::string& policy_digest) {
  if (!options_.publish) return;
  std::map<std::string, std::string> want;
  for (const auto& ep : local)
    want[cluster::endpoint_key(options_.prefix, options_.node, ep.name)] =
        cluster::encode_endpoint(ep, options_.node);
  want[cluster::node_key(options_.prefix, options_.node)] = cluster::encode_node(
      {options_.node, policy_digest, static_cast<int64_t>(local.size()), cluster::kRecordVersion});
  {
    std::lock_guard lock(wait_mu_);
    if (desired_ && *desired_ == want) return;
    desired_ = std::move(want);
    ++desired_gen_;
  }
  wait_cv_.notify_all();
}

void ClusterSource::poke() {
  {
    std::lock_guard lock(notify_mu_);
    poked_ = true;
  }
  notify_cv_.notify_all();
}

bool ClusterSource::sleep_unless_stopped(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mu_);
  return !wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void ClusterSource::set_error(const char* part, const std::string& error) {
  bool became_bad = false, became_good = false;
  {
    std::lock_guard lock(mu_);
    std::string& slot = std::string(part) == "watch" ? watch_error_ : keeper_error_;
    if (slot == error) return;
    became_bad = slot.empty();
    became_good = error.empty();
    slot = error;
  }
  // Only a change is news: retries of the same problem are not logged again.
  if (became_good) {
    log::info("cluster: etcd reachable again", {{"source", name()}, {"part", part}});
  } else {
    log::warn(became_bad ? "cluster: etcd unreachable; keeping the last known remote endpoints"
                         : "cluster: etcd still unreachable",
              {{"source", name()}, {"part", part}, {"error", error}});
  }
  poke();  // status and metrics follow
}

// Coalescing: the first poke opens a window; everything that arrives within it (the rest of a
// burst, the other events of the same watch response) goes out with one `changed`. Signals are
// at least one window apart.
void ClusterSource::run_notifier() {
  Clock::time_point ready_deadline;
  {
    std::lock_guard lock(mu_);
    ready_deadline = started_ + options_.ready_wait;
  }
  auto window = options_.coalesce;
  Clock::time_point last_fire{};
  std::unique_lock lk(notify_mu_);
  while (!stopping_.load()) {
    bool ready;
    {
      std::lock_guard lock(mu_);
      ready = ready_;
    }
    auto woken = [this] { return stopping_.load() || poked_; };
    if (ready)
      notify_cv_.wait(lk, woken);
    else
      notify_cv_.wait_until(lk, ready_deadline, woken);
    if (stopping_.load()) break;
    if (!ready && Clock::now() >= ready_deadline) {
      bool turned = false;
      std::string err;
      {
        std::lock_guard lock(mu_);
        if (!ready_) {
          ready_ = turned = true;
          if (watch_error_.empty()) watch_error_ = "etcd not reached yet";
          err = watch_error_;
        }
      }
      if (turned) {
        // Fail closed: local endpoints are enforced with no remote peer until etcd answers.
        log::warn(
            "cluster: etcd not reached in time; enforcing local endpoints without remote "
            "peers, still trying",
            {{"source", name()}, {"error", err}});
        poked_ = true;
      }
    }
    if (!poked_) continue;
    // A change soon after the last signal means a burst is under way: wait longer (doubling up
    // to 4 windows) so it lands in few recompiles. A lone change waits one window.
    const auto max_window = options_.coalesce * 4;
    window = Clock::now() - last_fire < max_window ? std::min(window * 2, max_window)
                                                   : options_.coalesce;
    notify_cv_.wait_for(lk, window, [this] { return stopping_.load(); });
    if (stopping_.load()) break;
    poked_ = false;
    lk.unlock();
    changed_();
    lk.lock();
    last_fire = Clock::now();
  }
}

void ClusterSource::run_watcher() {
  auto backoff = options_.backoff_min;
  while (!stopping_.load()) {
    bool compacted = false;
    Status s = watch_session(compacted);
    if (stopping_.load()) break;
    {
      std::lock_guard lock(mu_);
      listed_ = false;
    }
    if (compacted) {
      log::warn("cluster: watch fell behind a compaction; listing again", {{"source", name()}});
      backoff = options_.backoff_min;
      continue;
    }
    set_error("watch", s.ok() ? "watch ended" : s.error().to_string());
    if (!sleep_unless_stopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

void ClusterSource::apply_locked(const etcd::KeyValue& kv, bool deleted) {
  auto ref = cluster::parse_key(options_.prefix, kv.key);
  if (!ref) return;
  if (ref->kind == cluster::KeyRef::Kind::node) {
    if (deleted) {
      nodes_.erase(ref->node);
      return;
    }
    auto n = cluster::decode_node(kv.value, *ref);
    if (!n) {
      log::warn("cluster: ignoring a record", {{"key", kv.key}, {"error", n.error().to_string()}});
      nodes_.erase(ref->node);
      return;
    }
    nodes_[ref->node] = NodeInfo{n->node, n->policy_digest, n->endpoints};
    return;
  }
  if (ref->node == options_.node) return;  // this host's endpoints come from its own sources
  if (deleted) {
    remote_.erase(kv.key);
    return;
  }
  auto ep = cluster::decode_endpoint(kv.value, *ref);
  if (!ep) {
    // A record this daemon cannot use is no peer: dropping it fails closed.
    log::warn("cluster: ignoring a record", {{"key", kv.key}, {"error", ep.error().to_string()}});
    remote_.erase(kv.key);
    return;
  }
  remote_[kv.key] = std::move(*ep);
}

Status ClusterSource::watch_session(bool& compacted) {
  compacted = false;
  const std::string from = options_.prefix + "/";
  const std::string end = cluster::prefix_range_end(from);
  auto listed = watch_client_->range(from, end);
  if (!listed) return listed.error();
  {
    std::lock_guard lock(mu_);
    remote_.clear();
    nodes_.clear();
    for (const auto& kv : listed->kvs) apply_locked(kv, false);
    revision_ = listed->revision;
    ready_ = true;
    listed_ = true;
  }
  set_error("watch", "");
  poke();
  // From the listed revision + 1: nothing written after the list is missed.
  int64_t next = listed->revision + 1;
  for (;;) {
    auto watch = watch_client_->watch(from, end, next, options_.request_timeout);
    if (!watch) return watch.error();
    for (;;) {
      auto res = (*watch)->next(Clock::now() + options_.watch_idle);
      if (!res) {
        if (res.error().code == ETIMEDOUT) break;  // quiet: reopen from `next`
        return res.error();
      }
      if (res->compact_revision > 0) {
        compacted = true;
        return make_error("etcd watch", "revision " + std::to_string(next) + " compacted");
      }
      if (res->canceled) return make_error("etcd watch", "canceled: " + res->cancel_reason);
      if (res->events.empty()) continue;
      {
        std::lock_guard lock(mu_);
        for (const auto& ev : res->events) apply_locked(ev.kv, ev.type == etcd::Event::Type::del);
        revision_ = std::max(revision_, res->revision);
      }
      next = res->events.back().kv.mod_revision + 1;
      poke();
    }
  }
}

void ClusterSource::run_keeper() {
  const auto keepalive_every = std::chrono::milliseconds(options_.lease_ttl_s * 1000 / 3);
  auto backoff = options_.backoff_min;
  int64_t lease = 0;
  bool synced = false;
  uint64_t done_gen = 0;
  std::map<std::string, Held> held;  // what etcd holds of this node's keys
  auto next_keepalive = Clock::now();

  while (!stopping_.load()) {
    std::map<std::string, std::string> want;
    uint64_t gen = 0;
    {
      std::unique_lock lk(wait_mu_);
      auto work = [&] {
        return stopping_.load() || (desired_ && (desired_gen_ != done_gen || !synced));
      };
      if (lease != 0)
        wait_cv_.wait_until(lk, next_keepalive, work);
      else
        wait_cv_.wait(lk, work);
      if (stopping_.load()) break;
      if (!desired_) continue;  // nothing to publish yet: no lease either
      want = *desired_;
      gen = desired_gen_;
    }

    bool lease_lost = false;
    auto step = [&]() -> Status {
      if (lease == 0) {
        auto g = keep_client_->lease_grant(options_.lease_ttl_s);
        if (!g) return g.error();
        lease = g->id;
        lease_id_.store(lease);
        synced = false;
        next_keepalive = Clock::now() + keepalive_every;
        log::info("cluster: lease granted",
                  {{"lease", std::to_string(lease)}, {"ttl", std::to_string(g->ttl)}});
      }
      if (Clock::now() >= next_keepalive) {
        auto ttl = keep_client_->lease_keepalive(lease);
        if (!ttl) return ttl.error();
        if (*ttl <= 0) {
          log::warn("cluster: lease expired; granting a new one and publishing again",
                    {{"lease", std::to_string(lease)}});
          lease = 0;
          lease_id_.store(0);
          synced = false;
          lease_lost = true;
          return make_error("etcd lease keepalive", "lease expired");
        }
        next_keepalive = Clock::now() + keepalive_every;
      }
      if (!synced) {
        // Read back what etcd holds for this node: a restarted daemon's stale keys, keys of an
        // expired lease, writes lost with a failed request. The diff below repairs all of them.
        held.clear();
        const std::string mine = cluster::node_endpoints_prefix(options_.prefix, options_.node);
        auto eps = keep_client_->range(mine, cluster::prefix_range_end(mine));
        if (!eps) return eps.error();
        auto node = keep_client_->range(cluster::node_key(options_.prefix, options_.node), "");
        if (!node) return node.error();
        for (const auto* r : {&*eps, &*node})
          for (const auto& kv : r->kvs) held[kv.key] = {kv.value, kv.lease};
      }
      std::vector<etcd::Op> ops;
      for (const auto& [key, value] : want) {
        auto h = held.find(key);
        if (h == held.end() || h->second.value != value || h->second.lease != lease)
          ops.push_back({etcd::Op::Kind::put, key, value, lease});
      }
      for (const auto& [key, h] : held)
        if (!want.count(key)) ops.push_back({etcd::Op::Kind::del, key, "", 0});
      for (size_t i = 0; i < ops.size(); i += etcd::kMaxTxnOps) {
        std::vector<etcd::Op> batch(ops.begin() + i,
                                    ops.begin() + std::min(ops.size(), i + etcd::kMaxTxnOps));
        if (Status s = keep_client_->txn(batch); !s) return s;
        for (const auto& op : batch) {
          if (op.kind == etcd::Op::Kind::put)
            held[op.key] = {op.value, lease};
          else
            held.erase(op.key);
        }
      }
      synced = true;
      done_gen = gen;
      syncs_.fetch_add(1);
      return {};
    };
    Status s = step();
    if (stopping_.load()) break;
    if (s.ok()) {
      set_error("publish", "");
      backoff = options_.backoff_min;
      continue;
    }
    synced = false;
    if (lease_lost) continue;  // grant a new lease at once
    set_error("publish", s.error().to_string());
    if (!sleep_unless_stopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

}  // namespace bulkhead::daemon
