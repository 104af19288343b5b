package bpf

import "encoding/binary"

func binarySize(v any) int { return binary.Size(v) }
