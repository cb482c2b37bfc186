/* SPDX-License-Identifier: MIT */
#include "cp_srv_quota.h"

#include "cp_proto.h"

int cp_srv_quota_check(const struct cp_srv_quota *rcpt, const struct cp_srv_quota *sender,
		       size_t len)
{
	if (rcpt->qcount >= CP_QUEUE_MAX || rcpt->qbytes + len > CP_QUEUE_BYTES_MAX)
		return CP_E_QUEUE_FULL;
	if (sender->sent >= CP_SENDER_QUOTA)
		return CP_E_QUOTA;
	return CP_OK;
}

void cp_srv_quota_add(struct cp_srv_quota *rcpt, struct cp_srv_quota *sender, size_t len)
{
	if (rcpt) {
		rcpt->qcount++;
		rcpt->qbytes += len;
	}
	if (sender)
		sender->sent++;
}

void cp_srv_quota_del(struct cp_srv_quota *rcpt, struct cp_srv_quota *sender, size_t len)
{
	if (rcpt && rcpt->qcount) {
		rcpt->qcount--;
		rcpt->qbytes -= len <= rcpt->qbytes ? len : rcpt->qbytes;
	}
	if (sender && sender->sent)
		sender->sent--;
}
