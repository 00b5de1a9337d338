QDEF0(MP_QSTRnull, 0, 0, "")
QDEF0(MP_QSTR_, 5381, 0, "")
QDEF1(MP_QSTR___dir__, 36730, 7, "__dir__")
QDEF(MP_QSTR_x, (const byte*)"\xfd\xb5\x01" "x")
