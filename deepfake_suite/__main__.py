from deepfake_suite.cli import main

main()
