/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* Kernel UAPI and libbpf helper declarations for launchtap.c (Debian: linux-libc-dev, libbpf-dev). */
#pragma once

#include <linux/types.h>
#include <linux/bpf.h>

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
