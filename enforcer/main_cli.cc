// Placeholder replaced by the CLI; kept so the build configures.
int main() { return 0; }
