package mavlink

// crcInit is the initial value of CRC-16/MCRF4XX (MAVLink's "X.25" CRC).
const crcInit uint16 = 0xFFFF

// crcAccumulate adds one byte to a CRC-16/MCRF4XX checksum, as the
// reference C implementation (checksum.h, crc_accumulate) does.
func crcAccumulate(b byte, crc uint16) uint16 {
	tmp := b ^ byte(crc)
	tmp ^= tmp << 4
	return crc>>8 ^ uint16(tmp)<<8 ^ uint16(tmp)<<3 ^ uint16(tmp)>>4
}

// CRC16 returns the CRC-16/MCRF4XX of b started from crc (crcInit, 0xFFFF,
// for a new checksum).
func CRC16(crc uint16, b []byte) uint16 {
	for _, c := range b {
		crc = crcAccumulate(c, crc)
	}
	return crc
}
