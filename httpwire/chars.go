package httpwire

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
