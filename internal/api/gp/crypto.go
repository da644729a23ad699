package gp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrBadPassword is any failure to decrypt a password field; the details
// are not told to the caller (a padding oracle must not exist).
var ErrBadPassword = errors.New("the password could not be decrypted with this API key")

// aesKey is the key as PHP's openssl_encrypt uses it for AES-128-CBC: the
// key string's bytes, cut to 16 or padded with NUL bytes to 16.
func aesKey(key string) []byte {
	k := make([]byte, 16)
	copy(k, key)
	return k
}

// DecryptPassword opens a GP password field:
// base64(iv . hmac_sha256(ciphertext, key, raw) . ciphertext), AES-128-CBC
// with PKCS#7 padding, as PHP's manual example for openssl_encrypt builds
// it. The HMAC (keyed with the whole key) is checked in constant time before
// anything is decrypted.
func DecryptPassword(key, field string) (string, error) {
	key = strings.TrimSpace(key)
	// Form encoding may have turned '+' into ' '.
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(strings.TrimSpace(field), " ", "+"))
	if err != nil {
		return "", ErrBadPassword
	}
	const ivLen, macLen = aes.BlockSize, sha256.Size
	if len(raw) < ivLen+macLen+aes.BlockSize || (len(raw)-ivLen-macLen)%aes.BlockSize != 0 {
		return "", ErrBadPassword
	}
	iv, mac, ct := raw[:ivLen], raw[ivLen:ivLen+macLen], raw[ivLen+macLen:]
	m := hmac.New(sha256.New, []byte(key))
	m.Write(ct)
	if !hmac.Equal(m.Sum(nil), mac) {
		return "", ErrBadPassword
	}
	block, err := aes.NewCipher(aesKey(key))
	if err != nil {
		return "", ErrBadPassword
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > aes.BlockSize {
		return "", ErrBadPassword
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return "", ErrBadPassword
		}
	}
	return string(pt[:len(pt)-n]), nil
}

// EncryptPassword is DecryptPassword's inverse, for tests and Go clients.
func EncryptPassword(key, password string, iv []byte) string {
	key = strings.TrimSpace(key)
	n := aes.BlockSize - len(password)%aes.BlockSize
	pt := append([]byte(password), make([]byte, n)...)
	for i := len(password); i < len(pt); i++ {
		pt[i] = byte(n)
	}
	block, _ := aes.NewCipher(aesKey(key))
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	m := hmac.New(sha256.New, []byte(key))
	m.Write(ct)
	out := append(append(append([]byte{}, iv...), m.Sum(nil)...), ct...)
	return base64.StdEncoding.EncodeToString(out)
}
