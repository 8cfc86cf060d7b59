#include "netlink/nft/batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bulkhead::netlink {
namespace {

// Room every message may use before end_message; element messages stay below 64 KiB because
// the attribute carrying the elements has a 16-bit length.
constexpr size_t kMessageRoom = 128 * 1024;
// A spare buffer kept per thread for the next batch; larger ones (huge sets) are given back.
constexpr size_t kKeptCapacity = 1024 * 1024;
thread_local std::unique_ptr<char[]> spare;
thread_local size_t spare_capacity = 0;

}  // namespace

NftBatch::NftBatch(MnlSocket& sock) : sock_(sock) {
  if (spare) {
    buf_ = std::move(spare);
    capacity_ = spare_capacity;
    spare_capacity = 0;
  }
  begin_seq_ = sock_.next_seq();
  nftnl_batch_begin(reserve(kMessageRoom), begin_seq_);
  used_ += NLMSG_ALIGN(reinterpret_cast<nlmsghdr*>(buf_.get())->nlmsg_len);
  first_seq_ = sock_.next_seq();
}

NftBatch::~NftBatch() {
  if (capacity_ <= kKeptCapacity && capacity_ > spare_capacity) {
    spare = std::move(buf_);
    spare_capacity = capacity_;
  }
}

char* NftBatch::reserve(size_t bytes) {
  if (capacity_ < used_ + bytes) {
    size_t grown = std::max(capacity_ * 2, used_ + bytes);
    std::unique_ptr<char[]> bigger(new char[grown]);
    if (used_ > 0) std::memcpy(bigger.get(), buf_.get(), used_);
    buf_ = std::move(bigger);
    capacity_ = grown;
  }
  return buf_.get() + used_;
}

nlmsghdr* NftBatch::begin_message(uint16_t type, uint16_t family, uint16_t flags,
                                  std::string label) {
  uint32_t seq = first_seq_ + static_cast<uint32_t>(labels_.size());
  if (!labels_.empty()) sock_.next_seq();  // keep the socket's counter past our numbers
  offsets_.push_back(used_);
  labels_.push_back(std::move(label));
  return nftnl_nlmsg_build_hdr(reserve(kMessageRoom), type, family, flags | NLM_F_ACK, seq);
}

void NftBatch::end_message(nlmsghdr* nlh) { used_ += NLMSG_ALIGN(nlh->nlmsg_len); }

std::string NftBatch::describe_bad_attr(uint32_t seq, int32_t offset) const {
  size_t idx = seq - first_seq_;
  if (offset < 0 || idx >= offsets_.size()) return {};
  size_t at = offsets_[idx] + static_cast<size_t>(offset);
  if (at + sizeof(nlattr) > used_) return {};
  auto* attr = reinterpret_cast<const nlattr*>(buf_.get() + at);
  return "the kernel rejected attribute type " + std::to_string(attr->nla_type & NLA_TYPE_MASK) +
         " at offset " + std::to_string(offset);
}

Status NftBatch::commit() {
  uint32_t end_seq = first_seq_ + static_cast<uint32_t>(labels_.size());
  sock_.next_seq();
  nftnl_batch_end(reserve(kMessageRoom), end_seq);
  used_ += NLMSG_ALIGN(reinterpret_cast<nlmsghdr*>(buf_.get() + used_)->nlmsg_len);

  const std::string op = "nft transaction";
  if (auto st = sock_.ensure_send_buffer(used_, op); !st.ok()) return st;
  if (auto st = sock_.ensure_receive_room(labels_.size() + 2, op); !st.ok()) return st;
  if (auto st = sock_.send(buf_.get(), used_, op); !st.ok()) return st;

  std::vector<bool> answered(labels_.size(), false);
  size_t pending = labels_.size();
  Error first_error;
  uint32_t first_error_seq = 0;
  bool failed = false;
  size_t refused = 0;
  alignas(nlmsghdr) char rbuf[MNL_SOCKET_BUFFER_SIZE * 4];
  while (pending > 0) {
    auto n = sock_.recv(rbuf, sizeof(rbuf), op);
    if (!n.ok()) {
      Error e = n.error();
      e.message += " (" + std::to_string(pending) + " of " + std::to_string(labels_.size()) +
                   " messages unanswered; whether the kernel committed is unknown until read back)";
      return e;
    }
    int len = static_cast<int>(*n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rbuf); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      NetlinkErrorInfo info = parse_netlink_error(nlh);
      if (info.seq == begin_seq_ || info.seq == end_seq) {
        // The batch framing itself was refused: no object message will be answered.
        if (info.error != 0) {
          Error e = make_error(op, "kernel refused the batch", info.error);
          e.ext_ack = info.ext_ack;
          return e;
        }
        continue;
      }
      size_t idx = info.seq - first_seq_;
      if (info.seq < first_seq_ || idx >= labels_.size() || answered[idx]) continue;  // stale
      answered[idx] = true;
      --pending;
      if (info.error == 0) continue;
      ++refused;
      if (!failed || info.seq < first_error_seq) {
        failed = true;
        first_error_seq = info.seq;
        first_error = make_error(labels_[idx], "kernel refused", info.error);
        first_error.ext_ack =
            info.ext_ack.empty() ? describe_bad_attr(info.seq, info.bad_attr_offset) : info.ext_ack;
      }
    }
  }
  if (failed) {
    first_error.message += refused > 1 ? " (and " + std::to_string(refused - 1) +
                                             " later messages; nothing was applied)"
                                       : " (nothing was applied)";
    return first_error;
  }
  return {};
}

}  // namespace bulkhead::netlink
