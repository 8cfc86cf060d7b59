// One nftables transaction: batch begin, messages, batch end, sent at once. Every message asks
// for an ACK and carries a label ("add rule inet bulkhead ingress #5") so that a failure names the
// object that caused it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/nft/mnl_socket.h"

struct nlmsghdr;

namespace bulkhead::netlink {

class NftBatch {
 public:
  explicit NftBatch(MnlSocket& sock);
  ~NftBatch();
  NftBatch(const NftBatch&) = delete;
  NftBatch& operator=(const NftBatch&) = delete;

  // Starts a message of `type` (NFT_MSG_*) for `family`; fill it with nftnl_*_build_payload and
  // close it with end_message before starting the next one.
  nlmsghdr* begin_message(uint16_t type, uint16_t family, uint16_t flags, std::string label);
  void end_message(nlmsghdr* nlh);

  size_t message_count() const { return labels_.size(); }
  size_t size_bytes() const { return used_; }

  // Sends the transaction and waits for every answer. On failure nothing of it is applied (the
  // kernel aborts the whole batch); the error names the first failing object, carries the
  // kernel's text and says how many other messages the kernel refused.
  Status commit();

 private:
  char* reserve(size_t bytes);
  std::string describe_bad_attr(uint32_t seq, int32_t offset) const;

  MnlSocket& sock_;
  // Uninitialised and reused between batches of a thread: applies are frequent and a zeroed,
  // freshly mapped buffer per transaction cost more than building the messages.
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t used_ = 0;
  uint32_t begin_seq_ = 0;
  uint32_t first_seq_ = 0;           // sequence number of the first object message
  std::vector<std::string> labels_;  // index = seq - first_seq_
  std::vector<size_t> offsets_;      // where each message starts in buf_
};

}  // namespace bulkhead::netlink
