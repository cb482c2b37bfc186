/* SPDX-License-Identifier: MIT */
/**
 * @file msgtypes.h  Notification (envelope) types used across portless.
 * One registry so no two modules pick the same number; docs/PROTOCOL.md
 * describes each payload.
 */
#ifndef PORTLESS_MSGTYPES_H
#define PORTLESS_MSGTYPES_H

enum msg_type {
	MSG_TEXT = 1,               /**< free text (portless notify / listen) */
	MSG_SR_REQUEST = 0x10,      /**< client -> SR: please issue a ticket */
	MSG_SR_TICKET = 0x11,       /**< SR -> client: ticket (or error) */
	MSG_SESSION_REQUEST = 0x20, /**< client -> device: open a session */
	MSG_SESSION_ANSWER = 0x21,  /**< device -> client: SSH key, addresses, ephemeral key */
	MSG_SESSION_END = 0x22,     /**< either side: session closed */
	MSG_REKEY = 0x23,           /**< either side: new ephemeral key for rekeying */
	MSG_SESSION_RESUME =
	    0x24, /**< client -> device: re-rendezvous after the relay path was lost */
	MSG_SESSION_RESUMED =
	    0x25, /**< device -> client: its new ephemeral key for the resumed path */
};

#endif
