package wiretest

import (
	"encoding/binary"
	"net/netip"
)

// ProxyV2 builds a PROXY protocol version 2 header: the version and command byte, the family
// and transport byte, the address block, and tlvs bytes of TLVs.
func ProxyV2(verCmd, family byte, block []byte, tlvs int) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, verCmd, family)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)+tlvs))
	b = append(b, block...)
	return append(b, make([]byte, tlvs)...)
}

// AddressBlock is a version 2 address block: source and destination addresses, then ports.
func AddressBlock(source, dest string, sourcePort, destPort uint16) []byte {
	b := netip.MustParseAddr(source).AsSlice()
	b = append(b, netip.MustParseAddr(dest).AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, sourcePort)
	return binary.BigEndian.AppendUint16(b, destPort)
}
