package names

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// QUIC versions whose Initial packets the sensor can open.
const (
	QUICv1 = 0x00000001 // RFC 9000
	QUICv2 = 0x6b3343cf // RFC 9369
)

var (
	// RFC 9001 §5.2 and RFC 9369 §3.3.1: the salts of the initial secret.
	saltV1 = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2 = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
)

// Bounds of what a client Initial may hold. A ClientHello with
// post-quantum key shares spans two Initial packets; 4 KiB of CRYPTO data
// holds any ClientHello seen in practice, and a datagram beyond maxDatagram
// is no Initial a client sends (they are 1200 to ~1500 bytes).
const (
	maxCrypto   = 4096
	maxDatagram = 2048
)

// IsQUICVersion reports whether the 4 bytes of a long header's version
// field name a version QUIC opens: a cheap test before copying a datagram.
func IsQUICVersion(v []byte) bool {
	if len(v) < 4 {
		return false
	}
	switch binary.BigEndian.Uint32(v) {
	case QUICv1, QUICv2:
		return true
	}
	return false
}

// QUIC opens client Initial packets and reassembles the ClientHello their
// CRYPTO frames carry. It is a caller-owned scratch area (about 7 KiB):
// reuse one per worker, Reset between connections. The keys of the last
// connection ID are kept, so feeding the second Initial of the same
// connection derives nothing.
type QUIC struct {
	pkt    [maxDatagram]byte // the packet being opened (unmasked in place)
	crypto [maxCrypto]byte   // CRYPTO stream bytes by offset
	have   [maxCrypto / 64]uint64

	version uint32
	dcid    [20]byte
	dcidLen int
	aead    cipher.AEAD
	hp      cipher.Block
	iv      [12]byte
	keyed   bool

	// Passed to the cipher interfaces, so kept here rather than on a stack
	// they would escape from.
	mask  [16]byte
	nonce [12]byte
}

// Reset forgets the CRYPTO data of the previous connection (not its keys).
func (q *QUIC) Reset() {
	q.have = [maxCrypto / 64]uint64{}
}

// Datagram opens the client Initial packets at the start of one UDP
// datagram, adds their CRYPTO data to what earlier datagrams of the same
// connection gave, and returns the ClientHello's server name once the
// assembled prefix holds it. The name aliases q and is valid until the next
// call. ErrIncomplete means that a later Initial of the connection may
// complete the hello; ErrNotMine that the datagram is not a client Initial
// of a version this package opens.
func (q *QUIC) Datagram(b []byte) ([]byte, error) {
	var err error
	n := 0
	for len(b) > 0 && b[0]&0x80 != 0 {
		var rest []byte
		rest, err = q.packet(b)
		if err != nil {
			break
		}
		n++
		b = rest
	}
	if n == 0 {
		if err == nil {
			err = ErrNotMine
		}
		return nil, err
	}
	return HandshakeSNI(q.crypto[:q.prefix()])
}

// packet opens one long-header packet at the start of b and returns the
// bytes after it (coalesced packets).
func (q *QUIC) packet(b []byte) ([]byte, error) {
	if len(b) < 7 || b[0]&0x40 == 0 {
		return nil, ErrNotMine
	}
	version := binary.BigEndian.Uint32(b[1:])
	initialType := byte(0)
	switch version {
	case QUICv1:
	case QUICv2:
		initialType = 1
	default:
		return nil, ErrNotMine
	}
	if b[0]>>4&3 != initialType {
		return nil, ErrNotMine
	}
	r := reader{b: b[5:], complete: true}
	dcid := r.bytes(int(r.u8()))
	scid := r.bytes(int(r.u8()))
	if r.err != nil || len(dcid) > 20 || len(scid) > 20 {
		return nil, ErrMalformed
	}
	token := r.varint()
	r.skip(int(min(token, maxDatagram+1)))
	length := r.varint()
	if r.err != nil || length < 20 || length > uint64(len(r.b)) {
		return nil, ErrMalformed
	}
	pnOff := len(b) - len(r.b)
	end := pnOff + int(length)
	if end > maxDatagram {
		return nil, ErrMalformed
	}
	if err := q.keys(version, dcid); err != nil {
		return nil, err
	}
	p := q.pkt[:end]
	copy(p, b[:end])

	// Header protection (RFC 9001 §5.4): the sample starts 4 bytes past the
	// packet number's offset, whatever its length.
	q.hp.Encrypt(q.mask[:], p[pnOff+4:pnOff+20])
	p[0] ^= q.mask[0] & 0x0f
	pnLen := int(p[0]&3) + 1
	q.nonce = q.iv
	for i := range pnLen {
		p[pnOff+i] ^= q.mask[1+i]
		q.nonce[12-pnLen+i] ^= p[pnOff+i]
	}
	hdr, ct := p[:pnOff+pnLen], p[pnOff+pnLen:]
	plain, err := q.aead.Open(ct[:0], q.nonce[:], ct, hdr)
	if err != nil {
		return nil, ErrMalformed
	}
	if err := q.frames(plain); err != nil {
		return nil, err
	}
	return b[end:], nil
}

// keys derives the client Initial keys for a connection ID (RFC 9001
// §5.2), or keeps those of the previous call when it is the same.
func (q *QUIC) keys(version uint32, dcid []byte) error {
	if q.keyed && q.version == version && bytes.Equal(q.dcid[:q.dcidLen], dcid) {
		return nil
	}
	salt, prefix := saltV1, "quic "
	if version == QUICv2 {
		salt, prefix = saltV2, "quicv2 "
	}
	initial, err := hkdf.Extract(sha256.New, dcid, salt)
	if err != nil {
		return err
	}
	client, err := expandLabel(initial, "client in", 32)
	if err != nil {
		return err
	}
	key, err := expandLabel(client, prefix+"key", 16)
	if err != nil {
		return err
	}
	iv, err := expandLabel(client, prefix+"iv", 12)
	if err != nil {
		return err
	}
	hp, err := expandLabel(client, prefix+"hp", 16)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	if q.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	if q.hp, err = aes.NewCipher(hp); err != nil {
		return err
	}
	copy(q.iv[:], iv)
	q.version = version
	q.dcidLen = copy(q.dcid[:], dcid)
	q.keyed = true
	return nil
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func expandLabel(secret []byte, label string, n int) ([]byte, error) {
	const tls13 = "tls13 "
	info := make([]byte, 0, 4+len(tls13)+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(tls13)+len(label)))
	info = append(info, tls13...)
	info = append(info, label...)
	info = append(info, 0)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}

// QUIC frame types an Initial packet may carry (RFC 9000 §12.4).
const (
	framePadding    = 0x00
	framePing       = 0x01
	frameAck        = 0x02
	frameAckECN     = 0x03
	frameCrypto     = 0x06
	frameClose      = 0x1c
	frameCloseApp   = 0x1d
	maxAckRanges    = 256
	maxCryptoOffset = 1 << 20
)

// frames walks a decrypted Initial payload and stores its CRYPTO data.
func (q *QUIC) frames(b []byte) error {
	r := reader{b: b, complete: true}
	for r.err == nil && len(r.b) > 0 {
		switch typ := r.varint(); typ {
		case framePadding, framePing:
		case frameAck, frameAckECN:
			r.varint() // largest acknowledged
			r.varint() // delay
			n := r.varint()
			r.varint() // first range
			if n > maxAckRanges {
				return ErrMalformed
			}
			for range n {
				r.varint()
				r.varint()
			}
			if typ == frameAckECN {
				r.varint()
				r.varint()
				r.varint()
			}
		case frameCrypto:
			off, n := r.varint(), r.varint()
			if off > maxCryptoOffset || n > uint64(len(r.b)) {
				return ErrMalformed
			}
			q.store(int(off), r.bytes(int(n)))
		case frameClose, frameCloseApp:
			r.varint()
			if typ == frameClose {
				r.varint()
			}
			r.skip(int(min(r.varint(), maxDatagram+1)))
		default:
			return ErrMalformed
		}
	}
	return r.err
}

// store copies CRYPTO data at its stream offset, what fits of it.
func (q *QUIC) store(off int, data []byte) {
	if off >= maxCrypto {
		return
	}
	n := copy(q.crypto[off:], data)
	for i := off; i < off+n; i++ {
		q.have[i/64] |= 1 << (i % 64)
	}
}

// prefix is how many CRYPTO bytes from offset 0 have arrived.
func (q *QUIC) prefix() int {
	for i, w := range q.have {
		if w != ^uint64(0) {
			return i*64 + bits.TrailingZeros64(^w)
		}
	}
	return maxCrypto
}

// varint reads a QUIC variable-length integer (RFC 9000 §16).
func (r *reader) varint() uint64 {
	if r.err != nil || len(r.b) < 1 {
		r.short()
		return 0
	}
	n := 1 << (r.b[0] >> 6)
	if len(r.b) < n {
		r.short()
		return 0
	}
	v := uint64(r.b[0] & 0x3f)
	for _, c := range r.b[1:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}
