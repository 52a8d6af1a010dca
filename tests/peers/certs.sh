# tests/peers/certs.sh: test PKI made with the openssl CLI, sourced by
# tests/t/4x-*.sh after tests/lib.sh.  make_pki DIR creates:
#   ca.pem              private CA that signs the server certificate
#   server.pem/.key     CN=localhost, SAN localhost + 127.0.0.1
#   vendor.pem/.key     a "vendor factory" CA trusted for mTLS (tls_client_ca)
#   other.pem/.key      a CA the server does not trust
# client_cert DIR NAME SUBJECT [CA] issues NAME.pem/.key (default CA vendor);
# expired_cert DIR NAME SUBJECT issues one valid 2020-01-01..2021-01-01.
make_pki() {
	_d=$1
	mkdir -p "$_d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$_d/ca.key" -out "$_d/ca.pem" -days 2 \
		-subj "/CN=sipprov test CA" 2>/dev/null || bail "openssl: cannot make the CA"
	# PKI_SERVER_KEY=ec: an ECDSA P-256 server key (cheaper handshakes) instead of RSA-2048.
	if [ "${PKI_SERVER_KEY:-rsa}" = ec ]; then _nk="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
	else _nk="-newkey rsa:2048"; fi
	openssl req $_nk -nodes -keyout "$_d/server.key" -out "$_d/server.csr" \
		-subj "/CN=localhost" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' > "$_d/server.ext"
	openssl x509 -req -in "$_d/server.csr" -CA "$_d/ca.pem" -CAkey "$_d/ca.key" -CAcreateserial \
		-out "$_d/server.pem" -days 2 -extfile "$_d/server.ext" 2>/dev/null || bail "openssl: server cert"
	for _ca in vendor other; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$_d/$_ca.key" -out "$_d/$_ca.pem" -days 2 \
			-subj "/O=$_ca/CN=$_ca device CA" 2>/dev/null || bail "openssl: $_ca CA"
	done
	chmod 600 "$_d"/*.key
}

client_cert() {
	_d=$1; _ca=${4:-vendor}
	openssl req -newkey rsa:2048 -nodes -keyout "$_d/$2.key" -out "$_d/$2.csr" -subj "$3" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' > "$_d/client.ext"
	openssl x509 -req -in "$_d/$2.csr" -CA "$_d/$_ca.pem" -CAkey "$_d/$_ca.key" -CAcreateserial \
		-out "$_d/$2.pem" -days 2 -extfile "$_d/client.ext" 2>/dev/null || bail "openssl: client cert $2"
}

# openssl x509 -req cannot back-date in OpenSSL 3.0; 'openssl ca' can.
expired_cert() {
	_d=$1
	mkdir -p "$_d/cadb"
	: > "$_d/cadb/index.txt"
	echo 1000 > "$_d/cadb/serial"
	cat > "$_d/ca.cnf" <<EOC
[ca]
default_ca = vendor
[vendor]
database = $_d/cadb/index.txt
serial = $_d/cadb/serial
new_certs_dir = $_d/cadb
certificate = $_d/vendor.pem
private_key = $_d/vendor.key
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
organizationName = optional
EOC
	openssl req -newkey rsa:2048 -nodes -keyout "$_d/$2.key" -out "$_d/$2.csr" -subj "$3" 2>/dev/null
	openssl ca -batch -config "$_d/ca.cnf" -startdate 20200101000000Z -enddate 20210101000000Z \
		-in "$_d/$2.csr" -out "$_d/$2.pem" >/dev/null 2>&1 || bail "openssl: expired cert $2"
}
